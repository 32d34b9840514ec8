using GruServer.Inference;

namespace GruServer.Mirroring;

/// <summary>How far one output of the canary is from stable's for the same request.</summary>
/// <param name="MaxAbs">Largest |canary − stable| over the output's elements (+∞ when only one side is NaN).</param>
/// <param name="MaxRel">Largest |canary − stable| / max(|canary|, |stable|), in [0, 2]: symmetric and bounded, so values
/// near zero on both sides do not blow it up the way dividing by stable alone would.</param>
/// <param name="ArgMaxAgrees">For a classification-shaped output ([batch, classes], classes ≥ 2): whether every row's
/// arg-max is the same class; null for other shapes.</param>
internal sealed record OutputDifference(string Output, double MaxAbs, double MaxRel, bool? ArgMaxAgrees);

/// <summary>Compares a canary's outputs with stable's, output by output.</summary>
internal static class OutputDivergence
{
    /// <summary>The differences of every stable output, or null (with <paramref name="problem"/>) when the canary's
    /// outputs do not have the same names and shapes, which no tolerance can judge.</summary>
    public static IReadOnlyList<OutputDifference>? Compare(IReadOnlyList<NamedTensor> stable, IReadOnlyList<ComparedTensor> canary, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(stable);
        ArgumentNullException.ThrowIfNull(canary);
        var differences = new List<OutputDifference>(stable.Count);
        foreach (var output in stable)
        {
            var other = canary.FirstOrDefault(c => c.Name == output.Name);
            if (other is null)
            {
                problem = $"the canary did not return output '{output.Name}'";
                return null;
            }

            if (!output.Shape.SequenceEqual(other.Shape))
            {
                problem = $"output '{output.Name}' has shape [{string.Join(",", other.Shape)}] on the canary but [{string.Join(",", output.Shape)}] on stable";
                return null;
            }

            var values = AsDoubles(output.Data, checked((int)NamedTensor.ElementCount(output.Shape)));
            if (values.Length != other.Values.Length)
            {
                problem = $"output '{output.Name}' has {other.Values.Length} values on the canary but {values.Length} on stable";
                return null;
            }

            differences.Add(Difference(output.Name, output.Shape, values, other.Values));
        }

        problem = null;
        return differences;
    }

    /// <summary>The difference of two equally shaped outputs.</summary>
    public static OutputDifference Difference(string name, IReadOnlyList<long> shape, ReadOnlySpan<double> stable, ReadOnlySpan<double> canary)
    {
        ArgumentNullException.ThrowIfNull(shape);
        double maxAbs = 0, maxRel = 0;
        for (var i = 0; i < stable.Length; i++)
        {
            var (a, b) = (stable[i], canary[i]);
            if (double.IsNaN(a) || double.IsNaN(b))
            {
                if (double.IsNaN(a) != double.IsNaN(b))
                {
                    (maxAbs, maxRel) = (double.PositiveInfinity, 2);
                }

                continue;
            }

            var abs = Math.Abs(a - b);
            var scale = Math.Max(Math.Abs(a), Math.Abs(b));
            maxAbs = Math.Max(maxAbs, abs);
            maxRel = Math.Max(maxRel, scale == 0 ? 0 : Math.Min(2, abs / scale));
        }

        bool? agrees = null;
        if (shape.Count == 2 && shape[1] >= 2 && stable.Length > 0)
        {
            var classes = (int)shape[1];
            agrees = true;
            for (var row = 0; row < stable.Length / classes; row++)
            {
                if (ArgMax(stable.Slice(row * classes, classes)) != ArgMax(canary.Slice(row * classes, classes)))
                {
                    agrees = false;
                    break;
                }
            }
        }

        return new OutputDifference(name, maxAbs, maxRel, agrees);
    }

    private static int ArgMax(ReadOnlySpan<double> row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>The first <paramref name="count"/> values as doubles (pooled arrays may be longer than the shape).</summary>
    internal static double[] AsDoubles(Array data, int count) => data switch
    {
        float[] f => [.. f.AsSpan(0, count).ToArray().Select(v => (double)v)],
        double[] d => d.AsSpan(0, count).ToArray(),
        int[] n => [.. n.AsSpan(0, count).ToArray().Select(v => (double)v)],
        long[] l => [.. l.AsSpan(0, count).ToArray().Select(v => (double)v)],
        _ => throw new ArgumentException($"unsupported tensor element type {data.GetType().Name}", nameof(data)),
    };
}
