// The named devices a request may emulate: puppeteer's KnownDevices (viewport, scale, mobile,
// touch, user agent), with each viewport brought inside the request's own bounds so a device
// never asks for an image the service would refuse as explicit fields.
import { KnownDevices } from 'puppeteer-core/internal/common/Device.js';
import { LIMITS, VIEWPORT } from './limits.js';

interface DevicePreset {
  name: string;
  userAgent: string;
  width: number;
  height: number;
  deviceScaleFactor: number;
  isMobile: boolean;
  hasTouch: boolean;
  isLandscape: boolean;
}

const clamp = (n: number, b: { min: number; max: number }) => Math.min(b.max, Math.max(b.min, n));

// The bounds come from ./limits.ts, which imports nothing: built once, at load, with no cycle.
const PRESETS: ReadonlyMap<string, DevicePreset> = new Map(
  Object.entries(KnownDevices).map(([name, d]) => [
    name,
    {
      name,
      userAgent: d.userAgent,
      // e.g. "JioPhone 2" is 240 px wide and "Galaxy S9+" has scale 4.5: clamped to 320 and 3.
      width: clamp(d.viewport.width, VIEWPORT.width),
      height: clamp(d.viewport.height, VIEWPORT.height),
      deviceScaleFactor: clamp(d.viewport.deviceScaleFactor ?? 1, LIMITS.deviceScaleFactor),
      isMobile: d.viewport.isMobile ?? false,
      hasTouch: d.viewport.hasTouch ?? false,
      isLandscape: d.viewport.isLandscape ?? false,
    },
  ]),
);

export const devicePreset = (name: string): DevicePreset | undefined => PRESETS.get(name);

/** GET /devices: every preset, in puppeteer's order. */
export const deviceList = (): DevicePreset[] => [...PRESETS.values()];
