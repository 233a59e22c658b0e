// The one place every tuning number lives. serverless.yml reads tuning.json with
// ${file(./tuning.json):key}; the local runtime and the worker import it here, so local and
// cloud cannot drift. Why each value is what it is: docs/tuning.md.
import tuning from '../../tuning.json' with { type: 'json' };

export type Tuning = typeof tuning;
export const TUNING: Readonly<Tuning> = Object.freeze({ ...tuning });
