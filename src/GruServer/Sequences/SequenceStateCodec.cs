using System.Buffers.Binary;
using System.Text;
using GruServer.Inference;
using GruServer.Protocol;

namespace GruServer.Sequences;

/// <summary>A sequence's hidden state as the client holds it: tagged with the digest of the model that made it, so a
/// replica serving another model refuses it rather than continue a sequence with a state that means something else.</summary>
/// <remarks>Layout, little-endian: "GRUS", version 1, the model's 32-byte sha256, the tensor count, then per tensor
/// its name (u16 length + UTF-8), datatype, rank, dimensions (i64) and raw data (u32 length + bytes). Written by hand
/// because it is a few fields and the protocol parameters that carry it are strings (base64).</remarks>
internal static class SequenceStateCodec
{
    private static ReadOnlySpan<byte> Magic => "GRUS"u8;
    private const byte Version = 1;

    public static byte[] Encode(string digestHex, IReadOnlyList<NamedTensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(Convert.FromHexString(digestHex));
            writer.Write(checked((byte)state.Count));
            foreach (var tensor in state)
            {
                var name = Encoding.UTF8.GetBytes(tensor.Name);
                writer.Write(checked((ushort)name.Length));
                writer.Write(name);
                writer.Write((byte)tensor.DataType);
                writer.Write(checked((byte)tensor.Shape.Length));
                foreach (var dim in tensor.Shape)
                {
                    writer.Write(dim);
                }

                var bytes = RawTensors.Bytes(tensor.Data);
                writer.Write(bytes.Length);
                writer.Write(bytes);
            }
        }

        return stream.ToArray();
    }

    /// <summary>The state tensors, checked against the served model's digest and state layout; a 400 naming what is
    /// wrong otherwise. The values' finiteness is checked with every other input by the validator.</summary>
    public static IReadOnlyList<NamedTensor> Decode(ReadOnlySpan<byte> blob, string digestHex, SequenceStateLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var reader = new SpanReader(blob);
        if (!reader.Take(4).SequenceEqual(Magic) || reader.Byte() != Version)
        {
            throw Mismatch($"{SequenceParameters.State} is not a sequence state this server wrote; send back exactly what a response returned");
        }

        var digest = Convert.ToHexStringLower(reader.Take(32));
        if (!string.Equals(digest, digestHex, StringComparison.Ordinal))
        {
            throw Mismatch($"{SequenceParameters.State} was made by model sha256:{digest}, but this server serves sha256:{digestHex}; " +
                $"a state never continues on another model: send it to a replica serving that model, or begin the sequence anew with {SequenceParameters.Start}=true");
        }

        var count = reader.Byte();
        if (count != layout.Tensors.Count)
        {
            throw Mismatch($"{SequenceParameters.State} holds {count} state tensors; this model has {layout.Tensors.Count}");
        }

        var tensors = new List<NamedTensor>(count);
        foreach (var expected in layout.Tensors)
        {
            var name = Encoding.UTF8.GetString(reader.Take(BinaryPrimitives.ReadUInt16LittleEndian(reader.Take(2))));
            var datatype = (TensorDataType)reader.Byte();
            var shape = new long[reader.Byte()];
            for (var d = 0; d < shape.Length; d++)
            {
                shape[d] = BinaryPrimitives.ReadInt64LittleEndian(reader.Take(8));
            }

            var bytes = reader.Take(BinaryPrimitives.ReadInt32LittleEndian(reader.Take(4)));
            if (name != expected.Input.Name || datatype != expected.Input.DataType || !shape.SequenceEqual(expected.Shape))
            {
                throw Mismatch($"{SequenceParameters.State} holds '{name}' {datatype} [{string.Join(", ", shape)}]; this model's state is '{expected.Input.Name}' {expected.Input.DataType} [{string.Join(", ", expected.Shape)}]");
            }

            tensors.Add(new NamedTensor(name, datatype, shape, RawTensors.Decode(name, datatype, bytes, SequenceParameters.State)));
        }

        return reader.Remaining == 0 ? tensors : throw Mismatch($"{SequenceParameters.State} has {reader.Remaining} bytes after its last tensor");
    }

    private static InferenceException Mismatch(string message) => InferenceException.Invalid(SchemaErrorReasons.SequenceStateMismatch, message + ".");

    /// <summary>Reads fields off the blob; running past its end is the client's malformed state, never an index error.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly int Remaining => _data.Length;

        public ReadOnlySpan<byte> Take(int length)
        {
            if (length < 0 || length > _data.Length)
            {
                throw Mismatch($"{SequenceParameters.State} is truncated; send back exactly what a response returned");
            }

            var taken = _data[..length];
            _data = _data[length..];
            return taken;
        }

        public byte Byte() => Take(1)[0];
    }
}
