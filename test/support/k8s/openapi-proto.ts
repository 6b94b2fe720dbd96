/**
 * The Swagger 2.0 document in the protobuf encoding kube-apiserver serves to
 * `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`: gnostic's
 * openapi_v2.Document (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto). kubectl
 * asks only for this encoding when it validates manifests client-side or explains a type with
 * the v2 renderer. Only the message fields the documents of openapi.ts use are encoded; vendor
 * extensions, defaults and enums travel as gnostic `Any` values with their YAML (JSON) text.
 */

type Json = Record<string, any>;

/** A protobuf message being written: fields appended in order, proto3 (defaults omitted). */
class Message {
  private readonly parts: Buffer[] = [];

  private varint(n: number | bigint): void {
    let v = BigInt(n);
    if (v < 0n) v += 1n << 64n;
    const bytes: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      bytes.push(b);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  string(field: number, value: unknown): this {
    if (typeof value !== 'string' || value === '') return this;
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  strings(field: number, values: unknown): this {
    if (Array.isArray(values)) for (const v of values) this.bytes(field, Buffer.from(String(v), 'utf8'));
    return this;
  }

  bool(field: number, value: unknown): this {
    if (value !== true) return this;
    this.key(field, 0);
    this.varint(1);
    return this;
  }

  int64(field: number, value: unknown): this {
    if (typeof value !== 'number' || value === 0) return this;
    this.key(field, 0);
    this.varint(Math.trunc(value));
    return this;
  }

  double(field: number, value: unknown): this {
    if (typeof value !== 'number' || value === 0) return this;
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.parts.push(b);
    return this;
  }

  message(field: number, m: Message | null): this {
    if (m) this.bytes(field, m.finish());
    return this;
  }

  private bytes(field: number, b: Buffer): this {
    this.key(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** gnostic Any: the value as YAML text (JSON is YAML). */
const any = (value: unknown) => new Message().string(2, JSON.stringify(value));

function vendorExtensions(m: Message, field: number, obj: Json): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k.startsWith('x-')) m.message(field, new Message().string(1, k).message(2, any(v)));
  }
}

function schema(s: Json): Message {
  const m = new Message()
    .string(1, s.$ref).string(2, s.format).string(3, s.title).string(4, s.description);
  if (s.default !== undefined) m.message(5, any(s.default));
  m.double(6, s.multipleOf).double(7, s.maximum).bool(8, s.exclusiveMaximum).double(9, s.minimum).bool(10, s.exclusiveMinimum)
    .int64(11, s.maxLength).int64(12, s.minLength).string(13, s.pattern).int64(14, s.maxItems).int64(15, s.minItems)
    .bool(16, s.uniqueItems).int64(17, s.maxProperties).int64(18, s.minProperties).strings(19, s.required);
  for (const e of s.enum ?? []) m.message(20, any(e));
  if (s.additionalProperties !== undefined) {
    const ap = new Message();
    if (typeof s.additionalProperties === 'object') ap.message(1, schema(s.additionalProperties));
    else ap.bool(2, s.additionalProperties);
    m.message(21, ap);
  }
  if (s.type !== undefined) m.message(22, new Message().strings(1, Array.isArray(s.type) ? s.type : [s.type]));
  if (s.items) m.message(23, new Message().message(1, schema(Array.isArray(s.items) ? s.items[0] : s.items)));
  for (const a of s.allOf ?? []) m.message(24, schema(a));
  if (s.properties) {
    const props = new Message();
    for (const [name, sub] of Object.entries(s.properties as Json)) props.message(1, new Message().string(1, name).message(2, schema(sub)));
    m.message(25, props);
  }
  m.bool(27, s.readOnly);
  vendorExtensions(m, 31, s);
  return m;
}

function parameter(p: Json): Message {
  if (p.in === 'body') {
    return new Message().message(1, new Message().message(1, new Message()
      .string(1, p.description).string(2, p.name).string(3, p.in).bool(4, p.required).message(5, p.schema ? schema(p.schema) : null)));
  }
  // NonBodyParameter: query (3) and path (4) sub-schemas, whose field numbers differ.
  const sub = p.in === 'path'
    ? new Message().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name).string(5, p.type).bool(19, p.uniqueItems)
    : new Message().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name).string(6, p.type).bool(20, p.uniqueItems);
  return new Message().message(1, new Message().message(2, new Message().message(p.in === 'path' ? 4 : 3, sub)));
}

function operation(o: Json): Message {
  const m = new Message().strings(1, o.tags).string(3, o.description).string(5, o.operationId)
    .strings(6, o.produces).strings(7, o.consumes);
  for (const p of o.parameters ?? []) m.message(8, parameter(p));
  const responses = new Message();
  for (const [code, r] of Object.entries((o.responses ?? {}) as Json)) {
    const resp = new Message().string(1, r.description).message(2, r.schema ? new Message().message(1, schema(r.schema)) : null);
    responses.message(1, new Message().string(1, code).message(2, new Message().message(1, resp)));
  }
  m.message(9, responses).strings(10, o.schemes);
  vendorExtensions(m, 13, o);
  return m;
}

const METHOD_FIELDS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

/** Encodes a Swagger 2.0 JSON document as gnostic's openapi_v2.Document. */
export function encodeOpenApiV2(doc: Json): Buffer {
  const m = new Message().string(1, doc.swagger)
    .message(2, new Message().string(1, doc.info?.title).string(2, doc.info?.version));
  const paths = new Message();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Json)) {
    const pi = new Message();
    for (const [method, field] of Object.entries(METHOD_FIELDS)) if (item[method]) pi.message(field, operation(item[method]));
    for (const p of item.parameters ?? []) pi.message(9, parameter(p));
    paths.message(2, new Message().string(1, path).message(2, pi));
  }
  m.message(8, paths);
  const defs = new Message();
  for (const [name, s] of Object.entries((doc.definitions ?? {}) as Json)) defs.message(1, new Message().string(1, name).message(2, schema(s)));
  m.message(9, defs);
  return m.finish();
}
