/**
 * The spec file formats torc reads — YAML, JSON, JSON5 and KDL — and how each is recognized:
 * by file extension (as torc does) and, for the REST API, by the body's media type.
 */

export type SpecFormat = 'yaml' | 'json' | 'json5' | 'kdl';

/**
 * 'auto': the format is not declared (a file without a known extension, a `text/plain` body).
 * JSON-looking text is read as JSON (then JSON5), anything else as YAML, then KDL.
 */
export type FormatChoice = SpecFormat | 'auto';

export const SPEC_FORMATS: readonly SpecFormat[] = ['yaml', 'json', 'json5', 'kdl'];

const EXTENSIONS: Record<string, SpecFormat> = {
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.json': 'json',
  '.json5': 'json5',
  '.kdl': 'kdl',
};

/** The extension written for each format (`torc workflows export --spec`). */
export const FORMAT_EXTENSION: Record<SpecFormat, string> = { yaml: '.yaml', json: '.json', json5: '.json5', kdl: '.kdl' };

/** The format a file's extension declares (case-insensitive), or 'auto' for any other name. */
export function formatOfPath(path: string): FormatChoice {
  const m = /\.[A-Za-z0-9]+$/.exec(path);
  return (m && EXTENSIONS[m[0].toLowerCase()]) || 'auto';
}

/**
 * Media types a spec body may be sent with (`POST /workflow_specs`), lower case, without
 * parameters. `text/plain` (and no Content-Type at all) leaves the format to detection.
 */
export const SPEC_MEDIA_TYPES: Readonly<Record<string, FormatChoice>> = {
  'application/yaml': 'yaml',
  'application/x-yaml': 'yaml',
  'text/yaml': 'yaml',
  'text/x-yaml': 'yaml',
  'application/json': 'json',
  'text/json': 'json',
  'application/json5': 'json5',
  'text/json5': 'json5',
  'application/kdl': 'kdl',
  'text/kdl': 'kdl',
  'application/x-kdl': 'kdl',
  'text/plain': 'auto',
};

/** The format a body's media type declares ('' = no Content-Type: detect); undefined when it is not a spec type. */
export function formatOfMediaType(mediaType: string): FormatChoice | undefined {
  if (mediaType === '') return 'auto';
  return Object.hasOwn(SPEC_MEDIA_TYPES, mediaType) ? SPEC_MEDIA_TYPES[mediaType] : undefined;
}

/** Human name of a format in messages. */
export function formatName(format: SpecFormat): string {
  return format === 'json5' ? 'JSON5' : format.toUpperCase();
}
