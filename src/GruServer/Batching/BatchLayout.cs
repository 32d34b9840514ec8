using GruServer.Inference;

namespace GruServer.Batching;

/// <summary>How requests for one model may share a batch, read from its signature once: whether every input and
/// output has an open batch dimension 0 (else each request runs alone), and whether sequences of different lengths
/// may be padded to one time axis because the model masks them with a sequence-lengths input.</summary>
/// <remarks>Same conventions as <see cref="InferenceValidator"/>: dimension 0 is the batch, dimension 1 of a rank-3
/// input is time. Padding is allowed only when the model has a sequence-lengths input and every rank-3 input and
/// output names its dimension 1 with the same symbol, so the server knows which output axis to cut back to each
/// request's own length; otherwise only requests with equal time lengths share a batch (bucketing), because
/// unmasked padding would change the results.</remarks>
internal sealed record BatchLayout(bool CanBatch, bool PadsTime, IReadOnlySet<string> TimeOutputs)
{
    /// <summary>Requests run one at a time: the model's batch dimension is fixed somewhere.</summary>
    public static BatchLayout Alone { get; } = new(false, false, new HashSet<string>());

    public static BatchLayout For(ModelSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (!signature.Inputs.Concat(signature.Outputs).All(t => t.Shape.Length > 0 && t.Shape[0] < 0))
        {
            return Alone;
        }

        var sequences = signature.Inputs.Where(i => i.Shape.Length == 3).ToList();
        var time = sequences.Count > 0 ? sequences[0].DimensionNames[1] : "";
        var masked = signature.Inputs.Any(i => i.Shape.Length == 1 && i.DataType is TensorDataType.INT32 or TensorDataType.INT64
            && InferenceValidator.SequenceLengthNames.Contains(i.Name, StringComparer.Ordinal));
        var timeOutputs = signature.Outputs.Where(o => o.Shape.Length >= 3 && o.Shape[1] < 0 && o.DimensionNames[1] == time)
            .Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var padsTime = masked
            && !string.IsNullOrEmpty(time)
            && sequences.All(s => s.Shape[1] < 0 && s.DimensionNames[1] == time)
            && signature.Outputs.Where(o => o.Shape.Length >= 3).All(o => timeOutputs.Contains(o.Name));
        return new BatchLayout(true, padsTime, timeOutputs);
    }

    /// <summary>Requests with equal keys may run as one batch: same outputs wanted, same trailing dimensions, and
    /// (unless the model masks padding) the same time length.</summary>
    public string KeyOf(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var key = new System.Text.StringBuilder(string.Join(',', outputNames));
        foreach (var input in inputs.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            key.Append('|').Append(input.Name);
            for (var d = 1; d < input.Shape.Length; d++)
            {
                key.Append(',').Append(PadsTime && d == 1 && input.Shape.Length == 3 ? "t" : input.Shape[d].ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return key.ToString();
    }

    /// <summary>Rows (dimension 0) and time steps (dimension 1 of the first rank-3 input, else 1) of a request.</summary>
    public static (int Rows, int Time) SizeOf(IReadOnlyList<NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var rows = inputs.Count > 0 && inputs[0].Shape.Length > 0 ? (int)inputs[0].Shape[0] : 1;
        var sequence = inputs.FirstOrDefault(i => i.Shape.Length == 3);
        return (rows, sequence is null ? 1 : (int)sequence.Shape[1]);
    }

    /// <summary>Stacks the parts' inputs along the batch axis; rank-3 inputs are zero-padded to the longest time
    /// axis (only reached when <see cref="PadsTime"/>, or when all times are equal).</summary>
    public static IReadOnlyList<NamedTensor> Merge(IReadOnlyList<IReadOnlyList<NamedTensor>> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var rows = parts.Sum(p => SizeOf(p).Rows);
        var time = parts.Max(p => SizeOf(p).Time);
        var merged = new List<NamedTensor>(parts[0].Count);
        foreach (var first in parts[0])
        {
            var pieces = parts.Select(p => p.First(i => i.Name == first.Name)).ToList();
            var shape = (long[])first.Shape.Clone();
            shape[0] = rows;
            if (shape.Length == 3)
            {
                shape[1] = time;
            }

            var data = Array.CreateInstance(first.Data.GetType().GetElementType()!, checked((int)NamedTensor.ElementCount(shape)));
            var rowSize = (int)(NamedTensor.ElementCount(shape) / rows);
            var at = 0;
            foreach (var piece in pieces)
            {
                var pieceRows = (int)piece.Shape[0];
                var pieceRowSize = piece.Data.Length / pieceRows;
                if (pieceRowSize == rowSize)
                {
                    Array.Copy(piece.Data, 0, data, at * rowSize, piece.Data.Length);
                }
                else
                {
                    // A shorter sequence: its steps first, zeros after (masked by its sequence length).
                    for (var r = 0; r < pieceRows; r++)
                    {
                        Array.Copy(piece.Data, r * pieceRowSize, data, (at + r) * rowSize, pieceRowSize);
                    }
                }

                at += pieceRows;
            }

            merged.Add(first with { Shape = shape, Data = data });
        }

        return merged;
    }

    /// <summary>Cuts a batch's outputs back into each part's rows, and each time output back to the part's own
    /// time length, so every request gets exactly what it would have got alone.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>> Split(IReadOnlyList<NamedTensor> outputs, IReadOnlyList<(int Rows, int Time)> parts)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(parts);
        var result = parts.Select(_ => new List<NamedTensor>(outputs.Count)).ToList();
        foreach (var output in outputs)
        {
            var rows = (int)output.Shape[0];
            var rowSize = output.Data.Length / rows;
            var stepSize = output.Shape.Length >= 3 ? rowSize / (int)output.Shape[1] : 0;
            var at = 0;
            for (var p = 0; p < parts.Count; p++)
            {
                var (partRows, partTime) = parts[p];
                var shape = (long[])output.Shape.Clone();
                shape[0] = partRows;
                var keep = rowSize;
                if (TimeOutputs.Contains(output.Name) && output.Shape[1] != partTime)
                {
                    shape[1] = partTime;
                    keep = stepSize * partTime;
                }

                var data = Array.CreateInstance(output.Data.GetType().GetElementType()!, partRows * keep);
                for (var r = 0; r < partRows; r++)
                {
                    Array.Copy(output.Data, (at + r) * rowSize, data, r * keep, keep);
                }

                result[p].Add(output with { Shape = shape, Data = data });
                at += partRows;
            }
        }

        return result;
    }
}
