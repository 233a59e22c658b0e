// The request's bounds: viewport sizes, option limits and the pixel budget. Apart from the schema
// (lib/contract/request.ts) so lib/contract/devices.ts can clamp presets to them without a cycle.
export const VIEWPORT = {
  width: { min: 320, max: 3840, default: 1280 },
  height: { min: 200, max: 2160, default: 800 },
} as const;

export const LIMITS = {
  deviceScaleFactor: { min: 1, max: 3, default: 1 },
  quality: { min: 1, max: 100, default: 80 },
  delay: { min: 0, max: 10_000, default: 0 },
  /** Cache TTL in seconds; images live 7 days in the bucket (tuning.json imageExpirationDays). */
  cacheTtl: { min: 1, max: 604_800, default: 86_400 },
  selectorLength: 500,
  hideSelectors: 20,
  /**
   * A full-page image is at most this many image pixels tall (CSS px x deviceScaleFactor; 65535 is
   * JPEG's limit) and at most maxImagePixels in all; WebP stops at 16383 (its format's limit).
   */
  fullPageMaxHeight: 65_535,
  headers: 20,
  headerNameLength: 256,
  headerValueLength: 8192,
  cookies: 50,
  cookieValueLength: 4096,
  userAgentLength: 512,
  credentialLength: 256,
  /** styles and scripts: at most this many strings each, and this many bytes (UTF-8) in all. */
  injections: 10,
  injectionBytes: 64 * 1024,
  /** html: the document's size in bytes (UTF-8). */
  htmlBytes: 1024 * 1024,
  /**
   * The pixel budget: no image (viewport, clip, element or full page) has more pixels than this
   * (~200 MB of RGBA while it is encoded). Viewports and clips are refused at the API; full pages
   * and elements, whose size only the page decides, are cut to it.
   */
  maxImagePixels: 50_000_000,
  /**
   * Chromium's limit for one capture (its largest compositor surface): no side of one capture is
   * longer. In image pixels for an element capture and a full-page slice; a clip's CSS px must fit it too.
   */
  maxCaptureSide: 16_384,
} as const;

/** The tallest single capture (in image pixels) that fits the pixel budget at this width (in image pixels). */
export const maxImageHeight = (widthPx: number): number =>
  Math.max(1, Math.min(LIMITS.maxCaptureSide, Math.floor(LIMITS.maxImagePixels / Math.max(1, widthPx))));
