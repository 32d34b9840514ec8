using System.Globalization;
using GruServer.Inference;

namespace GruServer.Batching;

/// <summary>How requests for one model may share a batch, read from its signature once: whether every input and
/// output has an open batch axis (else each request runs alone), and whether sequences of different lengths may be
/// padded to one time axis because the model masks them with a sequence-lengths input.</summary>
/// <remarks>The batch and time axes are the model's own (<see cref="Axes.ModelAxes"/>): a time-major model is stacked
/// along its dimension 1 and padded along its dimension 0. Padding is allowed only when the model has a
/// sequence-lengths input feeding its GRU and the probe showed every output's time length sits at its time axis, so
/// each request's outputs can be cut back to its own length; otherwise only requests with equal time lengths share a
/// batch (bucketing), because unmasked padding would change the results.</remarks>
internal sealed class BatchLayout
{
    private readonly Dictionary<string, TensorSpec> _inputs;
    private readonly Dictionary<string, TensorSpec> _outputs;
    private readonly TensorSpec? _sequences;

    private BatchLayout(ModelSignature signature, bool canBatch, bool padsTime)
    {
        _inputs = signature.Inputs.ToDictionary(i => i.Name, StringComparer.Ordinal);
        _outputs = signature.Outputs.ToDictionary(o => o.Name, StringComparer.Ordinal);
        _sequences = signature.Sequences;
        CanBatch = canBatch;
        PadsTime = padsTime;
    }

    /// <summary>Requests may share a model run.</summary>
    public bool CanBatch { get; }

    /// <summary>Requests of different time lengths may share a model run, padded and masked.</summary>
    public bool PadsTime { get; }

    public static BatchLayout For(ModelSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var canBatch = signature.OutputsFollowBatch
            && signature.Inputs.Concat(signature.Outputs).All(t => t.BatchAxis >= 0 && t.Shape[t.BatchAxis] < 0);
        var padsTime = canBatch
            && signature.SequenceLengths is not null
            && signature.OutputsFollowTime
            && signature.Inputs.Where(i => i.TimeAxis >= 0).All(i => i.Shape[i.TimeAxis] < 0);
        return new BatchLayout(signature, canBatch, padsTime);
    }

    /// <summary>Requests with equal keys may run as one batch: same outputs wanted, same dimensions other than the
    /// batch, and (unless the model masks padding) the same time length.</summary>
    public string KeyOf(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var key = new System.Text.StringBuilder(string.Join(',', outputNames));
        foreach (var input in inputs.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var spec = _inputs[input.Name];
            key.Append('|').Append(input.Name);
            for (var d = 0; d < input.Shape.Length; d++)
            {
                key.Append(',').Append(d == spec.BatchAxis ? "b" : PadsTime && d == spec.TimeAxis ? "t" : input.Shape[d].ToString(CultureInfo.InvariantCulture));
            }
        }

        return key.ToString();
    }

    /// <summary>Rows (batch axis) and time steps (time axis of the sequences input, else 1) of a request.</summary>
    public (int Rows, int Time) SizeOf(IReadOnlyList<NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var rows = 1;
        var time = 1;
        foreach (var input in inputs)
        {
            if (_inputs.TryGetValue(input.Name, out var spec) && spec.BatchAxis >= 0)
            {
                rows = (int)input.Shape[spec.BatchAxis];
                break;
            }
        }

        if (_sequences is not null && inputs.FirstOrDefault(i => i.Name == _sequences.Name) is { } sequences)
        {
            time = (int)sequences.Shape[_sequences.TimeAxis];
        }

        return (rows, time);
    }

    /// <summary>Stacks the parts' inputs along their batch axis; inputs with a time axis are zero-padded to the
    /// longest (only reached when <see cref="PadsTime"/>, or when all times are equal).</summary>
    /// <param name="pooled">Rent the merged buffers (<see cref="PooledTensors"/>; they may be longer than the shape and
    /// must be returned by the caller) instead of allocating them.</param>
    public IReadOnlyList<NamedTensor> Merge(IReadOnlyList<IReadOnlyList<NamedTensor>> parts, bool pooled = false)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var sizes = parts.Select(SizeOf).ToList();
        var rows = sizes.Sum(s => s.Rows);
        var time = sizes.Max(s => s.Time);
        var merged = new List<NamedTensor>(parts[0].Count);
        foreach (var first in parts[0])
        {
            var spec = _inputs[first.Name];
            var shape = (long[])first.Shape.Clone();
            shape[spec.BatchAxis] = rows;
            if (spec.TimeAxis >= 0)
            {
                shape[spec.TimeAxis] = time;
            }

            var count = checked((int)NamedTensor.ElementCount(shape));
            var elementType = first.Data.GetType().GetElementType()!;
            var data = pooled ? PooledTensors.Rent(elementType, count) : Array.CreateInstance(elementType, count);
            if (pooled && time > sizes.Min(s => s.Time))
            {
                // Padding must be zeros, and a rented buffer holds whatever its last user left.
                Array.Clear(data, 0, count);
            }

            var at = 0;
            for (var p = 0; p < parts.Count; p++)
            {
                var piece = parts[p].First(i => i.Name == first.Name);
                TensorBlock.Copy(piece.Data, piece.Shape, data, shape, spec.BatchAxis, at, intoLarger: true);
                at += sizes[p].Rows;
            }

            merged.Add(first with { Shape = shape, Data = data });
        }

        return merged;
    }

    /// <summary>Cuts a batch's outputs back into each part's rows, and each output with a time axis back to the
    /// part's own time length, so every request gets exactly what it would have got alone.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>> Split(IReadOnlyList<NamedTensor> outputs, IReadOnlyList<(int Rows, int Time)> parts)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(parts);
        var result = parts.Select(_ => new List<NamedTensor>(outputs.Count)).ToList();
        foreach (var output in outputs)
        {
            var spec = _outputs[output.Name];
            var at = 0;
            for (var p = 0; p < parts.Count; p++)
            {
                var (partRows, partTime) = parts[p];
                var shape = (long[])output.Shape.Clone();
                shape[spec.BatchAxis] = partRows;
                if (spec.TimeAxis >= 0)
                {
                    shape[spec.TimeAxis] = partTime;
                }

                var data = Array.CreateInstance(output.Data.GetType().GetElementType()!, checked((int)NamedTensor.ElementCount(shape)));
                TensorBlock.Copy(data, shape, output.Data, output.Shape, spec.BatchAxis, at, intoLarger: false);
                result[p].Add(output with { Shape = shape, Data = data });
                at += partRows;
            }
        }

        return result;
    }
}
