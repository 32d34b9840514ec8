using GruOnnx.Reading;
using GruServer.Backends;
using GruServer.Inference;

namespace GruServer.Axes;

/// <summary>Decides which axis of every input and output is the batch and which the time, from the model:
/// inputs by the GRU node they feed (<see cref="GruInputAxes"/>, through Transposes, reading <c>layout</c>), then by
/// dimension names as a hint; outputs by two probe runs that change the batch and the time length and watch which
/// output dimensions follow. <c>--tensor-axes</c> overrides both where the model cannot tell.</summary>
/// <remarks>An axis nobody can tell stays -1: the server then neither batches nor pads that model and applies no
/// per-request limit to that axis, rather than guess (a wrong guess would mix up sequences).</remarks>
internal static class ModelAxes
{
    /// <summary>Dimension names that say "batch" or "time" when the graph cannot be traced.</summary>
    private static readonly HashSet<string> BatchNames = new(["batch", "batch_size", "batchsize", "bs", "n", "b", "num_sequences"], StringComparer.OrdinalIgnoreCase);
    private static readonly HashSet<string> TimeNames = new(["time", "t", "seq", "seq_len", "seq_length", "sequence", "sequence_length", "steps", "timesteps", "time_steps"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Names of a rank-1 integer input holding sequence lengths, used only when the graph cannot be traced.</summary>
    private static readonly string[] SequenceLengthNames = ["sequence_lengths", "sequence_lens", "seq_lens", "lengths"];

    /// <summary>The probe's two (batch, time) sizes: distinct from each other so no dimension can match both.</summary>
    private static readonly (int Batch, int Time)[] ProbeSizes = [(2, 5), (3, 7)];

    /// <summary>Input axes: <paramref name="overrides"/>, else the traced GRU role, else dimension names.</summary>
    public static ModelSignature ResolveInputs(ModelSignature signature, IReadOnlyDictionary<string, GruInputRole> traced, TensorAxesOverride overrides)
    {
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(traced);
        ArgumentNullException.ThrowIfNull(overrides);
        CheckOverrides(signature, overrides);
        var inputs = signature.Inputs.Select(spec =>
        {
            if (Overridden(spec, overrides) is { } given)
            {
                return given;
            }

            if (traced.TryGetValue(spec.Name, out var role) && role.BatchAxis >= 0)
            {
                return spec with { BatchAxis = role.BatchAxis, TimeAxis = role.TimeAxis, AxesSource = role.Evidence };
            }

            return ByName(spec, role is null ? "" : $" ({role.Evidence})");
        }).ToList();

        var sequenceLengths = traced.Values.FirstOrDefault(r => r.GruInput == "sequence_lens")?.Input
            ?? inputs.FirstOrDefault(i => i.Shape.Length == 1 && i.DataType is TensorDataType.INT32 or TensorDataType.INT64
                && SequenceLengthNames.Contains(i.Name, StringComparer.Ordinal))?.Name;
        return signature with { Inputs = inputs, SequenceLengths = sequenceLengths };
    }

    /// <summary>Output axes from two probe runs (or <paramref name="overrides"/>), and whether the outputs follow
    /// the batch and time axes cleanly enough to be cut back into requests.</summary>
    public static ModelSignature ResolveOutputs(ModelSignature signature, IModelBackend backend, TensorAxesOverride overrides, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(overrides);
        var names = signature.Outputs.Select(o => o.Name).ToArray();
        var runs = ProbeSizes.Select(size => backend.Run(ProbeInputs(signature, size.Batch, size.Time), names, cancellationToken)).ToList();
        var followBatch = true;
        var followTime = true;
        var outputs = new List<TensorSpec>(signature.Outputs.Count);
        for (var o = 0; o < names.Length; o++)
        {
            var spec = signature.Outputs[o];
            var (a, b) = (runs[0][o].Shape, runs[1][o].Shape);
            int batch = -1, time = -1;
            for (var d = 0; d < a.Length && d < b.Length; d++)
            {
                if (a[d] == b[d])
                {
                    continue;
                }

                if ((a[d], b[d]) == (ProbeSizes[0].Batch, ProbeSizes[1].Batch) && batch < 0)
                {
                    batch = d;
                }
                else if ((a[d], b[d]) == (ProbeSizes[0].Time, ProbeSizes[1].Time) && time < 0)
                {
                    time = d;
                }
                else
                {
                    // Changes with the batch or the time length, but not as one axis of it (e.g. flattened): cannot be cut.
                    followBatch = false;
                    followTime = false;
                }
            }

            var probed = spec with
            {
                BatchAxis = batch,
                TimeAxis = time,
                AxesSource = $"probe runs at batch {ProbeSizes[0].Batch} and {ProbeSizes[1].Batch}, time {ProbeSizes[0].Time} and {ProbeSizes[1].Time}",
            };
            var resolved = Overridden(spec, overrides) ?? probed;
            followBatch &= resolved.BatchAxis >= 0 && resolved.BatchAxis == probed.BatchAxis;
            followTime &= resolved.TimeAxis == probed.TimeAxis;
            outputs.Add(resolved);
        }

        return signature with { Outputs = outputs, OutputsFollowBatch = followBatch, OutputsFollowTime = followTime };
    }

    /// <summary>Inputs shaped like a request of <paramref name="batch"/> sequences of <paramref name="time"/> steps:
    /// zeros, integer inputs (sequence lengths) set to the step count, open dimensions that are neither batch nor time 1.</summary>
    public static IReadOnlyList<NamedTensor> ProbeInputs(ModelSignature signature, int batch, int time)
    {
        ArgumentNullException.ThrowIfNull(signature);
        return [.. signature.Inputs.Select(spec =>
        {
            var shape = spec.Shape.Select((d, i) => d >= 0 ? d : i == spec.BatchAxis ? batch : i == spec.TimeAxis ? time : 1).ToArray();
            var count = (int)NamedTensor.ElementCount(shape);
            Array data = spec.DataType switch
            {
                TensorDataType.FP32 => new float[count],
                TensorDataType.FP64 => new double[count],
                TensorDataType.INT32 => Enumerable.Repeat(time, count).ToArray(),
                _ => Enumerable.Repeat((long)time, count).ToArray(),
            };
            return new NamedTensor(spec.Name, spec.DataType, shape, data);
        })];
    }

    private static void CheckOverrides(ModelSignature signature, TensorAxesOverride overrides)
    {
        var all = signature.Inputs.Concat(signature.Outputs).ToList();
        var unknown = overrides.Unknown(all.Select(t => t.Name)).ToList();
        if (unknown.Count > 0)
        {
            throw new ModelLoadException($"{TensorAxesOverride.Flag} names {string.Join(", ", unknown.Select(u => $"'{u}'"))}, which the model does not have; " +
                $"its tensors are {string.Join(", ", all.Select(t => $"'{t.Name}' {t.DescribeShape()}"))}.");
        }

        foreach (var spec in all)
        {
            if (overrides.Tensors.TryGetValue(spec.Name, out var given) && given.Rank != spec.Shape.Length)
            {
                throw new ModelLoadException($"{TensorAxesOverride.Flag} gives '{spec.Name}' {given.Rank} axes but it has rank {spec.Shape.Length} {spec.DescribeShape()}; give one letter per dimension.");
            }
        }
    }

    private static TensorSpec? Overridden(TensorSpec spec, TensorAxesOverride overrides) =>
        overrides.Tensors.TryGetValue(spec.Name, out var given)
            ? spec with { BatchAxis = given.Batch, TimeAxis = given.Time, AxesSource = TensorAxesOverride.Flag }
            : null;

    private static TensorSpec ByName(TensorSpec spec, string untraced)
    {
        var batch = Array.FindIndex(spec.DimensionNames, n => BatchNames.Contains(n));
        var time = Array.FindIndex(spec.DimensionNames, n => TimeNames.Contains(n));
        return batch < 0 && time < 0
            ? spec with { AxesSource = "unknown: feeds no GRU through Transposes and names no batch or time dimension" + untraced }
            : spec with { BatchAxis = batch, TimeAxis = time, AxesSource = "dimension names" + untraced };
    }
}
