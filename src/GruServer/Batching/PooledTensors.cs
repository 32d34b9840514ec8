using System.Buffers;

namespace GruServer.Batching;

/// <summary>Buffers for the batcher's merged inputs, rented from <see cref="ArrayPool{T}"/>: a batch of 32 sequences of
/// 100×64 floats is 800 KB, which allocated per batch would land on the large object heap and cost a gen-2 collection
/// every few batches. A rented array may be longer than the tensor; the backend passes only the shape's element count
/// to ONNX Runtime.</summary>
internal static class PooledTensors
{
    public static Array Rent(Type elementType, int length) => elementType switch
    {
        _ when elementType == typeof(float) => ArrayPool<float>.Shared.Rent(length),
        _ when elementType == typeof(double) => ArrayPool<double>.Shared.Rent(length),
        _ when elementType == typeof(int) => ArrayPool<int>.Shared.Rent(length),
        _ when elementType == typeof(long) => ArrayPool<long>.Shared.Rent(length),
        _ => throw new ArgumentException($"no pool for tensor elements of type {elementType}", nameof(elementType)),
    };

    public static void Return(Array data)
    {
        switch (data)
        {
            case float[] f:
                ArrayPool<float>.Shared.Return(f);
                break;
            case double[] d:
                ArrayPool<double>.Shared.Return(d);
                break;
            case int[] i:
                ArrayPool<int>.Shared.Return(i);
                break;
            case long[] l:
                ArrayPool<long>.Shared.Return(l);
                break;
        }
    }
}
