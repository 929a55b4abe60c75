// The CPU data pipeline: images and codecs, YOLO labels and datasets, the official augmentations, the batch loader
// and the embedded shapes dataset. Platform-neutral; the Node file-system adapter is imported separately from
// './fs-node' so browser bundles leave it out.
export * from './augment';
export { type AugmentHyp, SCRATCH_HIGH, augmentHyp } from './hyp';
export {
  type DataConfig,
  type DatasetOptions,
  type DetectionDataset,
  DECODABLE_FORMATS,
  FileDataset,
  IMG_FORMATS,
  imageToLabelPath,
  listImages,
  openDataYaml,
  parseDataYaml,
  readDataYaml,
  yoloDataset,
  yoloFolderDataset,
} from './dataset';
export { type DirEntry, type FileReader, type FileSystem, basename, dirname, extname, isAbsolutePath, joinPaths, memoryFileSystem, normalizePath, readerFileSystem } from './fs';
export { type Archive, type ArchiveEntry, type ArchiveLimits, type ByteSource, DEFAULT_ARCHIVE_LIMITS, blobSource, bytesSource, openZip, unsafeEntryName } from './archive';
export { type DatasetStats, type UserDataset, type UserDatasetOptions, datasetStats, openUserDataset, splitIndices, subsetDataset } from './user-dataset';
export { type ImageFormat, type RgbImage, cloneImage, createImage, decodeImage, drawBox, drawText, encodeJpeg, encodePng, imageSize, sniffFormat, textSize } from './image';
export { type Rgb, PALETTE, annotate, fillRect } from './draw';
export { type Labels, type ParseLabelsOptions, type ParsedLabels, emptyLabels, labelCount, parseLabels } from './labels';
export { type Batch, type CacheStats, DataLoader, type ImageMeta, type LoaderOptions, collate, writePlanes } from './loader';
export { type Interpolation, padImage, resize } from './resize';
export { type Rng, beta, deriveSeed, gamma, mulberry32, normal, permutation, randint, shuffle, uniform } from './rng';
export { roundHalfEven } from './round';
export * from './shapes';
export { type Affine, type Projective, invertAffine, warpAffine, warpPerspective } from './warp';
export { hsvToRgb, rgbToHsv, applyHsvGains } from './color';
