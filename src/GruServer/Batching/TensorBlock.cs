namespace GruServer.Batching;

/// <summary>Copies a row-major block between a tensor and a larger one that holds it at an offset along one axis
/// (and at zero along every other axis, where the larger may be longer: padding). Stacking requests along their batch
/// axis, wherever the model puts it, and cutting the outputs back, are both this copy.</summary>
internal static class TensorBlock
{
    /// <param name="intoLarger">True copies <paramref name="small"/> into <paramref name="large"/>; false the other way.</param>
    public static void Copy(Array small, long[] smallShape, Array large, long[] largeShape, int axis, int offset, bool intoLarger)
    {
        ArgumentNullException.ThrowIfNull(small);
        ArgumentNullException.ThrowIfNull(smallShape);
        ArgumentNullException.ThrowIfNull(large);
        ArgumentNullException.ThrowIfNull(largeShape);
        var rank = smallShape.Length;

        // The trailing axes where both agree (never the offset axis) are one contiguous run in both tensors.
        var last = rank - 1;
        while (last > axis && smallShape[last] == largeShape[last])
        {
            last--;
        }

        var run = 1L;
        for (var k = last + 1; k < rank; k++)
        {
            run *= smallShape[k];
        }

        var strides = new long[rank];
        var stride = 1L;
        for (var k = rank - 1; k >= 0; k--)
        {
            strides[k] = stride;
            stride *= largeShape[k];
        }

        if (small.Length == 0)
        {
            return;
        }

        var index = new long[last + 1];
        var smallAt = 0L;
        while (true)
        {
            var largeAt = 0L;
            for (var k = 0; k <= last; k++)
            {
                largeAt += (index[k] + (k == axis ? offset : 0)) * strides[k];
            }

            if (intoLarger)
            {
                Array.Copy(small, smallAt, large, largeAt, run);
            }
            else
            {
                Array.Copy(large, largeAt, small, smallAt, run);
            }

            smallAt += run;
            var d = last;
            while (d >= 0 && ++index[d] == smallShape[d])
            {
                index[d--] = 0;
            }

            if (d < 0)
            {
                return;
            }
        }
    }
}
