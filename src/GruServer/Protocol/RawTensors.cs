using System.Runtime.InteropServices;
using GruServer.Inference;

namespace GruServer.Protocol;

/// <summary>Tensor data as raw little-endian bytes in row-major order, as the Open Inference Protocol's binary tensor
/// extension and its gRPC <c>raw_input_contents</c>/<c>raw_output_contents</c> carry it. Only decoding lives here:
/// element counts and finiteness are checked by <see cref="InferenceValidator"/> like every other protocol's.</summary>
internal static class RawTensors
{
    public static int ElementSize(TensorDataType type) => type switch
    {
        TensorDataType.FP32 or TensorDataType.INT32 => 4,
        _ => 8,
    };

    /// <summary>The typed array the bytes hold; a length that is not whole elements is the caller's error.</summary>
    /// <param name="field">How the protocol names the bytes, for the error (e.g. "binary_data_size").</param>
    public static Array Decode(string name, TensorDataType type, ReadOnlySpan<byte> bytes, string field)
    {
        var size = ElementSize(type);
        if (bytes.Length % size != 0)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.DataLengthMismatch,
                $"input '{name}' has {bytes.Length} bytes of {field}, which is not a whole number of {type} elements ({size} bytes each).");
        }

        // Every platform .NET runs GruServer on is little-endian, as the protocol's raw data is.
        return type switch
        {
            TensorDataType.FP32 => MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
            TensorDataType.FP64 => MemoryMarshal.Cast<byte, double>(bytes).ToArray(),
            TensorDataType.INT32 => MemoryMarshal.Cast<byte, int>(bytes).ToArray(),
            _ => MemoryMarshal.Cast<byte, long>(bytes).ToArray(),
        };
    }

    /// <summary>The bytes of a tensor's data, without a copy.</summary>
    public static ReadOnlySpan<byte> Bytes(Array data) => data switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
        int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
        long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
        _ => throw new ArgumentException($"tensor data of type {data?.GetType().Name} has no raw form", nameof(data)),
    };
}
