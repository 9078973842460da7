/**
 * A hand-written encoder for the few ONNX protobuf messages a static embedding graph needs (field
 * numbers from onnx/onnx.proto). Protobuf is tag + varint/length-delimited bytes, short enough to
 * write here rather than depend on a transitive protobufjs. The graph: Gather an int8 table and a
 * per-row float scale by input_ids, Cast, multiply, and zero padded positions with attention_mask.
 */

type Bytes = Uint8Array;

function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n; // two's complement, as protobuf encodes negative int64
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const concat = (parts: readonly Bytes[]): Bytes =>
  Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
const vint = (field: number, value: number | bigint): Bytes =>
  Uint8Array.from([...varint(field << 3), ...varint(value)]);
const bytes = (field: number, payload: Bytes): Bytes =>
  concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
const str = (field: number, s: string): Bytes => bytes(field, new TextEncoder().encode(s));

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT8: 3, INT64: 7 } as const;

/** A TensorProto with raw little-endian data. */
export function tensor(name: string, dataType: number, dims: readonly number[], raw: Bytes): Bytes {
  return concat([...dims.map((d) => vint(1, d)), vint(2, dataType), str(8, name), bytes(9, raw)]);
}

/** A ValueInfoProto for a tensor; string dims are symbolic (dim_param). */
export function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): Bytes {
  const shape = concat(dims.map((d) => bytes(1, typeof d === 'number' ? vint(1, d) : str(2, d))));
  const tensorType = concat([vint(1, elemType), bytes(2, shape)]);
  return concat([str(1, name), bytes(2, bytes(1, tensorType))]);
}

/** An integer attribute (AttributeProto type INT = 2). */
export function intAttribute(name: string, value: number): Bytes {
  return concat([str(1, name), vint(3, value), vint(20, 2)]);
}

/** A NodeProto. */
export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: readonly Bytes[] = [],
): Bytes {
  return concat([
    ...inputs.map((i) => str(1, i)),
    ...outputs.map((o) => str(2, o)),
    str(3, name),
    str(4, opType),
    ...attributes.map((a) => bytes(5, a)),
  ]);
}

/** A ModelProto around one graph. */
export function model(parts: {
  nodes: Bytes[];
  initializers: Bytes[];
  inputs: Bytes[];
  outputs: Bytes[];
  graphName: string;
  opset: number;
  irVersion: number;
  producer: string;
  docString?: string;
}): Bytes {
  const graph = concat([
    ...parts.nodes.map((n) => bytes(1, n)),
    str(2, parts.graphName),
    ...parts.initializers.map((t) => bytes(5, t)),
    ...parts.inputs.map((v) => bytes(11, v)),
    ...parts.outputs.map((v) => bytes(12, v)),
  ]);
  const opset = concat([str(1, ''), vint(2, parts.opset)]);
  return concat([
    vint(1, parts.irVersion),
    str(2, parts.producer),
    str(3, '1'),
    ...(parts.docString ? [str(6, parts.docString)] : []),
    bytes(7, graph),
    bytes(8, opset),
  ]);
}

/** The static embedding graph: last_hidden_state[b, s, :] = int8_row(ids[b, s]) * scale(ids[b, s]) * mask[b, s]. */
export function staticEmbeddingModel(
  quantized: Int8Array,
  scales: Float32Array,
  dim: number,
  docString: string,
): Bytes {
  const rows = scales.length;
  const axes = new BigInt64Array([2n]);
  const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return model({
    graphName: 'switchboard_static_embedding',
    opset: 17,
    irVersion: 8,
    producer: 'switchboard scripts/model',
    docString,
    initializers: [
      tensor(
        'embedding.int8',
        DataType.INT8,
        [rows, dim],
        new Uint8Array(quantized.buffer, quantized.byteOffset, quantized.byteLength),
      ),
      tensor('embedding.scale', DataType.FLOAT, [rows, 1], f32(scales)),
      tensor('unsqueeze.axes', DataType.INT64, [1], new Uint8Array(axes.buffer)),
    ],
    inputs: [
      valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
      valueInfo('attention_mask', DataType.INT64, ['batch_size', 'sequence_length']),
    ],
    outputs: [valueInfo('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', dim])],
    nodes: [
      node('Gather', ['embedding.int8', 'input_ids'], ['rows.int8'], 'gather_rows', [intAttribute('axis', 0)]),
      node('Cast', ['rows.int8'], ['rows.float'], 'cast_rows', [intAttribute('to', DataType.FLOAT)]),
      node('Gather', ['embedding.scale', 'input_ids'], ['rows.scale'], 'gather_scales', [intAttribute('axis', 0)]),
      node('Mul', ['rows.float', 'rows.scale'], ['rows.scaled'], 'dequantize'),
      node('Cast', ['attention_mask'], ['mask.float'], 'cast_mask', [intAttribute('to', DataType.FLOAT)]),
      node('Unsqueeze', ['mask.float', 'unsqueeze.axes'], ['mask.3d'], 'mask_last_axis'),
      node('Mul', ['rows.scaled', 'mask.3d'], ['last_hidden_state'], 'zero_padding'),
    ],
  });
}
