// Rasterising shapes scenes: background fields, anti-aliased shapes (4×4 supersampling near edges), the owner map
// that defines the exact boxes, and the visibility filter.
import { type RgbImage, createImage } from './image';
import { mulberry32 } from './rng';

/** The classes of the shapes dataset. */
export const SHAPE_NAMES = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross'] as const;
/** A class of the shapes dataset. */
export type ShapeName = (typeof SHAPE_NAMES)[number];

export type Vec3 = [number, number, number];

/** One object of a scene: its class, geometry and colour. */
export interface ShapeObject {
  cls: number;
  /** Centre in pixels. */
  cx: number;
  cy: number;
  /** Circumradius in pixels. */
  r: number;
  /** Rotation in radians. */
  angle: number;
  color: Vec3;
  /** Brightness change across the object (a soft shading direction and amount). */
  shade: [number, number, number];
}

/** A generated scene: its size, background and objects. */
export interface Scene {
  size: number;
  background: { kind: 'solid' | 'linear' | 'radial' | 'noise' | 'stripes'; a: Vec3; b: Vec3; angle: number; period: number; noise: number; seed: number };
  objects: ShapeObject[];
}

/** A scene drawn into an RGB image, with each pixel's owner object and each object's visible box. */
export interface RenderedScene {
  image: RgbImage;
  /** Per pixel the index (into scene.objects) of the object that owns it, or -1 for background. */
  owner: Int16Array;
  /** Pixel boxes [x1, y1, x2, y2) of each object's owned pixels (x2, y2 exclusive); null if it owns none. */
  boxes: ([number, number, number, number] | null)[];
  /** Owned pixels / pixels it would own alone, per object. */
  visible: number[];
}

/** Vertices (unit circumradius, angle 0) of each polygonal class; the circle has none. */
function outline(cls: number): [number, number][] {
  const ring = (n: number, r: (k: number) => number, a0: number): [number, number][] =>
    Array.from({ length: n }, (_, k) => [r(k) * Math.cos(a0 + (2 * Math.PI * k) / n), r(k) * Math.sin(a0 + (2 * Math.PI * k) / n)]);
  switch (SHAPE_NAMES[cls]) {
    case 'square':
      return ring(4, () => 1, Math.PI / 4);
    case 'triangle':
      return ring(3, () => 1, -Math.PI / 2);
    case 'star':
      return ring(10, (k) => (k % 2 === 0 ? 1 : 0.42), -Math.PI / 2);
    case 'hexagon':
      return ring(6, () => 1, 0);
    case 'cross': {
      const t = 0.34; // arm half-width
      const l = Math.SQRT1_2 * 1.25; // arm reach so the corners lie near the unit circle
      return [[t, t], [l, t], [l, -t], [t, -t], [t, -l], [-t, -l], [-t, -t], [-l, -t], [-l, t], [-t, t], [-t, l], [t, l]];
    }
    default:
      return [];
  }
}

/** Coverage in [0, 1] of each pixel of the object's bounding square (4×4 samples per pixel). */
function coverage(o: ShapeObject, size: number): { x0: number; y0: number; w: number; h: number; a: Float32Array } {
  const x0 = Math.max(0, Math.floor(o.cx - o.r - 1));
  const y0 = Math.max(0, Math.floor(o.cy - o.r - 1));
  const x1 = Math.min(size, Math.ceil(o.cx + o.r + 1));
  const y1 = Math.min(size, Math.ceil(o.cy + o.r + 1));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const a = new Float32Array(w * h);
  const cos = Math.cos(o.angle);
  const sin = Math.sin(o.angle);
  const verts = outline(o.cls);
  const m = verts.length;
  const px = new Float64Array(m);
  const py = new Float64Array(m);
  verts.forEach(([x, y], k) => {
    px[k] = o.cx + o.r * (x * cos - y * sin);
    py[k] = o.cy + o.r * (x * sin + y * cos);
  });
  const r2 = o.r * o.r;
  const inside = (x: number, y: number): boolean => {
    if (m === 0) return (x - o.cx) ** 2 + (y - o.cy) ** 2 <= r2;
    let c = false;
    for (let i = 0, j = m - 1; i < m; j = i++) {
      if (py[i] > y !== py[j] > y && x < ((px[j] - px[i]) * (y - py[i])) / (py[j] - py[i]) + px[i]) c = !c;
    }
    return c;
  };
  // Whether (x, y) is within 0.75 px of the outline: only those pixels need supersampling.
  const nearEdge = (x: number, y: number): boolean => {
    if (m === 0) {
      const d = Math.sqrt((x - o.cx) ** 2 + (y - o.cy) ** 2) - o.r;
      return d * d <= 0.5625;
    }
    for (let i = 0, j = m - 1; i < m; j = i++) {
      const ex = px[j] - px[i];
      const ey = py[j] - py[i];
      const t = Math.min(1, Math.max(0, ((x - px[i]) * ex + (y - py[i]) * ey) / (ex * ex + ey * ey)));
      const dx = x - px[i] - t * ex;
      const dy = y - py[i] - t * ey;
      if (dx * dx + dy * dy <= 0.5625) return true;
    }
    return false;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const cx = x0 + x + 0.5;
      const cy = y0 + y + 0.5;
      if (!nearEdge(cx, cy)) {
        a[y * w + x] = inside(cx, cy) ? 1 : 0; // the whole pixel is on one side of the outline
        continue;
      }
      let n = 0;
      for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) if (inside(x0 + x + (sx + 0.5) / 4, y0 + y + (sy + 0.5) / 4)) n++;
      a[y * w + x] = n / 16;
    }
  }
  return { x0, y0, w, h, a };
}

/** A function giving the background blend factor t in [0, 1] at pixel (x, y) (precomputes what it can). */
function blendField(bg: Scene['background'], size: number): (x: number, y: number) => number {
  const ca = Math.cos(bg.angle);
  const sa = Math.sin(bg.angle);
  switch (bg.kind) {
    case 'solid':
      return () => 0;
    case 'linear':
      return (x, y) => 0.5 + (x / size - 0.5) * ca + (y / size - 0.5) * sa;
    case 'radial':
      return (x, y) => Math.sqrt((x / size - 0.5) ** 2 + (y / size - 0.5) ** 2) * 1.6;
    case 'stripes':
      return (x, y) => (Math.floor((x * ca + y * sa) / bg.period) % 2 === 0 ? 0 : 0.35);
    case 'noise': {
      // Value noise: bilinear interpolation of a random lattice with spacing `period`.
      const n = Math.ceil(size / bg.period) + 2;
      const lattice = new Float64Array(n * n);
      const r = mulberry32(bg.seed);
      for (let i = 0; i < lattice.length; i++) lattice[i] = r();
      return (x, y) => {
        const gx = x / bg.period;
        const gy = y / bg.period;
        const ix = Math.floor(gx);
        const iy = Math.floor(gy);
        const fx = gx - ix;
        const fy = gy - iy;
        const o = iy * n + ix;
        return (lattice[o] * (1 - fx) + lattice[o + 1] * fx) * (1 - fy) + (lattice[o + n] * (1 - fx) + lattice[o + n + 1] * fx) * fy;
      };
    }
  }
}

/** Background colour at pixel (x, y), before per-pixel noise. */
export function backgroundAt(bg: Scene['background'], size: number, x: number, y: number): Vec3 {
  const t = Math.min(1, Math.max(0, blendField(bg, size)(x, y)));
  return [bg.a[0] + (bg.b[0] - bg.a[0]) * t, bg.a[1] + (bg.b[1] - bg.a[1]) * t, bg.a[2] + (bg.b[2] - bg.a[2]) * t];
}

/** Draws a scene: background, then the objects in order (later ones on top). */
export function renderScene(scene: Scene): RenderedScene {
  const { size, background: bg, objects } = scene;
  const acc = new Float32Array(size * size * 3);
  const noise = mulberry32(bg.seed ^ 0x51);
  const field = blendField(bg, size);
  const [a0, a1, a2] = bg.a;
  const d0 = bg.b[0] - a0;
  const d1 = bg.b[1] - a1;
  const d2 = bg.b[2] - a2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = Math.min(1, Math.max(0, field(x, y)));
      const nz = bg.noise * (noise() * 2 - 1);
      const o = (y * size + x) * 3;
      acc[o] = a0 + d0 * t + nz;
      acc[o + 1] = a1 + d1 * t + nz;
      acc[o + 2] = a2 + d2 * t + nz;
    }
  }
  const owner = new Int16Array(size * size).fill(-1);
  const alone = objects.map(() => 0);
  objects.forEach((ob, id) => {
    const cov = coverage(ob, size);
    for (let y = 0; y < cov.h; y++) {
      for (let x = 0; x < cov.w; x++) {
        const a = cov.a[y * cov.w + x];
        if (a === 0) continue;
        const px = cov.x0 + x;
        const py = cov.y0 + y;
        const shade = (((px - ob.cx) * ob.shade[0] + (py - ob.cy) * ob.shade[1]) / ob.r) * ob.shade[2];
        const o = (py * size + px) * 3;
        for (let c = 0; c < 3; c++) acc[o + c] = acc[o + c] * (1 - a) + (ob.color[c] + shade) * a;
        if (a >= 0.5) {
          owner[py * size + px] = id;
          alone[id]++;
        }
      }
    }
  });
  const image = createImage(size, size);
  for (let i = 0; i < acc.length; i++) {
    const v = acc[i];
    image.data[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
  }
  const boxes: RenderedScene['boxes'] = objects.map(() => null);
  const owned = objects.map(() => 0);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const id = owner[y * size + x];
      if (id < 0) continue;
      owned[id]++;
      const b = boxes[id];
      if (!b) boxes[id] = [x, y, x + 1, y + 1];
      else (b[0] = Math.min(b[0], x)), (b[1] = Math.min(b[1], y)), (b[2] = Math.max(b[2], x + 1)), (b[3] = Math.max(b[3], y + 1));
    }
  }
  return { image, owner, boxes, visible: owned.map((n, i) => (alone[i] ? n / alone[i] : 0)) };
}

/** The smallest box side kept: 12 px at 256 (scaled with the image, at least 4 px). */
export const minBoxSide = (size: number): number => Math.max(4, Math.round((12 * size) / 256));

/**
 * Renders, drops objects less than `minVisible` visible or whose visible box is thinner than `minBoxSide`, and
 * re-renders until every remaining object qualifies (removing objects only uncovers the others).
 */
export function renderVisible(scene: Scene, minVisible = 0.4): { scene: Scene; rendered: RenderedScene } {
  let s = scene;
  const minSide = minBoxSide(scene.size);
  for (;;) {
    const r = renderScene(s);
    const keep = s.objects.filter((_, i) => {
      const b = r.boxes[i];
      return r.visible[i] >= minVisible && b !== null && b[2] - b[0] >= minSide && b[3] - b[1] >= minSide;
    });
    if (keep.length === s.objects.length) return { scene: s, rendered: r };
    s = { ...s, objects: keep };
  }
}

