// The main job's closing lines: each detection with its class, confidence and box, whether it finds a labelled
// object (same class, IoU >= 0.5, each label found once), and how many labelled objects were found.
import { expect, test } from 'vitest';
import { describeDetections } from '../../cli/demo';

test('detections are matched to the labelled objects of the image', () => {
  const names = ['circle', 'square'];
  // labels: a circle at [10, 10, 30, 30] and a square at [40, 40, 80, 60] in a 100x100 image
  const labels = [
    [0, 0.2, 0.2, 0.2, 0.2],
    [1, 0.6, 0.5, 0.4, 0.2],
  ];
  const dets = [
    [11, 10, 30, 31, 0.91, 0], // the circle (IoU ~0.90)
    [12, 11, 31, 30, 0.6, 0], // the same circle again: already found
    [40, 40, 80, 60, 0.8, 0], // the square's box with the wrong class
  ];
  const lines = describeDetections(dets, labels, 100, 100, names);
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(/^ {2}circle +0\.91 {2}\[11, 10, 30, 31\] {2}matches a labelled circle \(IoU 0\.9\d\)$/);
  expect(lines[1]).toMatch(/no labelled object$/);
  expect(lines[2]).toMatch(/^ {2}circle +0\.80 .*no labelled object$/);
  expect(lines[3]).toBe('  found 1 of 2 labelled objects');
});
