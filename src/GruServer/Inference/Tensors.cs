namespace GruServer.Inference;

/// <summary>Element types the server accepts, named as in the Open Inference Protocol.</summary>
internal enum TensorDataType
{
    FP32,
    FP64,
    INT32,
    INT64,
}

/// <summary>A tensor with a name: row-major data in a typed array (float[], double[], int[] or long[]).</summary>
internal sealed record NamedTensor(string Name, TensorDataType DataType, long[] Shape, Array Data)
{
    public static long ElementCount(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (var dim in shape)
        {
            count = checked(count * dim);
        }

        return count;
    }
}

/// <summary>An input or output as the model declares it; <c>-1</c> marks a dimension the model leaves open.</summary>
/// <param name="DimensionNames">The model's symbolic name for each open dimension (e.g. "batch"), or empty.</param>
/// <param name="BatchAxis">The dimension that indexes sequences, or -1 when the tensor has none or it is unknown (see <see cref="Axes.ModelAxes"/>).</param>
/// <param name="TimeAxis">The dimension that indexes time steps, or -1.</param>
/// <param name="AxesSource">Where the axes came from (the GRU node the input feeds, dimension names, a probe run, --tensor-axes), for metadata and logs.</param>
internal sealed record TensorSpec(string Name, TensorDataType DataType, long[] Shape, string[] DimensionNames, int BatchAxis = -1, int TimeAxis = -1, string AxesSource = "")
{
    /// <summary>Shape as people read it: <c>[batch, time, 8]</c>.</summary>
    public string DescribeShape() =>
        "[" + string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : string.IsNullOrEmpty(DimensionNames[i]) ? "-1" : DimensionNames[i])) + "]";
}

/// <summary>The model's inputs and outputs, read from the model itself.</summary>
/// <param name="SequenceLengths">The rank-1 input holding each sequence's valid steps (it feeds the GRU's <c>sequence_lens</c>), or null.</param>
/// <param name="OutputsFollowBatch">A probe run showed every output's shape changes with the batch only at its batch axis, so rows can be cut back out.</param>
/// <param name="OutputsFollowTime">Likewise for time: every output either ignores the time length or has it exactly at its time axis.</param>
/// <param name="State">Each GRU's initial_h input and Y_h output (or why the model cannot carry state), for Stateful sessions.</param>
internal sealed record ModelSignature(
    IReadOnlyList<TensorSpec> Inputs,
    IReadOnlyList<TensorSpec> Outputs,
    string? SequenceLengths = null,
    bool OutputsFollowBatch = false,
    bool OutputsFollowTime = false,
    GruOnnx.Reading.GruStateTrace? State = null)
{
    /// <summary>The first input with a time axis: the one whose time length a request's sequence lengths are bounded by.</summary>
    public TensorSpec? Sequences => Inputs.FirstOrDefault(i => i.TimeAxis >= 0);
}

/// <summary>A protocol-neutral infer request: typed inputs, the outputs wanted (null = all), the caller's id, and for
/// Stateful sessions which sequence it continues.</summary>
internal sealed record InferenceRequest(string? Id, IReadOnlyList<NamedTensor> Inputs, IReadOnlyList<string>? RequestedOutputs, Sequences.SequenceControl? Sequence = null);

/// <summary>The answer to an infer request; <paramref name="SequenceState"/> is the sequence's hidden state when the
/// request asked for it (<see cref="Sequences.SequenceStateCodec"/>).</summary>
internal sealed record InferenceResult(string ModelName, string Revision, string? Id, IReadOnlyList<NamedTensor> Outputs, byte[]? SequenceState = null, bool SequenceHandoff = false);
