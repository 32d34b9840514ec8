using GruServing.Contract.Serving;

namespace GruServer.Inference;

/// <summary>Limits a request must respect beyond the model's own signature.</summary>
internal sealed record RequestLimits(int MaxRequestBatchSize, int MaxSequenceLength);

/// <summary>Checks a request against the model signature before it reaches ONNX Runtime, so every bad
/// input becomes a 400 that names the input and what was expected instead of a runtime failure.</summary>
/// <remarks>Conventions for GRU models: dimension 0 of an input is the batch, dimension 1 of a rank-3 input
/// is the time axis, and a rank-1 integer input named <c>sequence_lengths</c> or <c>sequence_lens</c> holds
/// each sequence's valid steps (ONNX Runtime rejects values outside 1..time).</remarks>
internal static class InferenceValidator
{
    /// <summary>Names of the rank-1 input holding each sequence's valid steps; the batcher pads only models that have one.</summary>
    internal static readonly string[] SequenceLengthNames = ["sequence_lengths", "sequence_lens"];

    public static void Validate(InferenceRequest request, ModelSignature signature, RequestLimits limits)
    {
        var byName = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var input in request.Inputs)
        {
            var spec = signature.Inputs.FirstOrDefault(s => s.Name == input.Name)
                ?? throw InferenceException.Invalid(SchemaErrorReasons.UnknownInput,
                    $"input '{input.Name}' is not an input of this model; expected {DescribeInputs(signature)}.");
            if (!byName.TryAdd(input.Name, input))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.DuplicateInput, $"input '{input.Name}' appears more than once; send each input once.");
            }

            if (input.DataType != spec.DataType)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.DatatypeMismatch,
                    $"input '{input.Name}' has datatype {input.DataType}; the model expects {spec.DataType}.");
            }

            CheckShape(input, spec);
        }

        foreach (var spec in signature.Inputs)
        {
            if (!byName.ContainsKey(spec.Name))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.MissingInput,
                    $"input '{spec.Name}' is missing; the model expects {spec.DataType} {spec.DescribeShape()}.");
            }
        }

        CheckOpenDimensionsAgree(request.Inputs, signature);
        CheckLimits(request.Inputs, limits);
        CheckSequenceLengths(request.Inputs);

        if (request.RequestedOutputs is { } outputs)
        {
            foreach (var name in outputs)
            {
                if (signature.Outputs.All(o => o.Name != name))
                {
                    throw InferenceException.Invalid(SchemaErrorReasons.UnknownOutput,
                        $"output '{name}' is not an output of this model; expected one of: {string.Join(", ", signature.Outputs.Select(o => o.Name))}.");
                }
            }
        }
    }

    private static void CheckShape(NamedTensor input, TensorSpec spec)
    {
        var shapeText = "[" + string.Join(", ", input.Shape) + "]";
        if (input.Shape.Length != spec.Shape.Length)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch,
                $"input '{input.Name}' has shape {shapeText} (rank {input.Shape.Length}); the model expects {spec.DescribeShape()} (rank {spec.Shape.Length}).");
        }

        for (var i = 0; i < spec.Shape.Length; i++)
        {
            if (input.Shape[i] < 1)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch,
                    $"input '{input.Name}' has shape {shapeText}; every dimension must be at least 1.");
            }

            if (spec.Shape[i] >= 0 && input.Shape[i] != spec.Shape[i])
            {
                throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch,
                    $"input '{input.Name}' has shape {shapeText}; the model expects {spec.DescribeShape()} (dimension {i} must be {spec.Shape[i]}).");
            }
        }
    }

    private static void CheckOpenDimensionsAgree(IReadOnlyList<NamedTensor> inputs, ModelSignature signature)
    {
        var seen = new Dictionary<string, (string Input, long Size)>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var spec = signature.Inputs.First(s => s.Name == input.Name);
            for (var i = 0; i < spec.Shape.Length; i++)
            {
                var symbol = spec.DimensionNames[i];
                if (spec.Shape[i] >= 0 || string.IsNullOrEmpty(symbol))
                {
                    continue;
                }

                if (seen.TryGetValue(symbol, out var first) && first.Size != input.Shape[i])
                {
                    throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch,
                        $"input '{input.Name}' has {symbol}={input.Shape[i]} but input '{first.Input}' has {symbol}={first.Size}; they must agree.");
                }

                seen.TryAdd(symbol, (input.Name, input.Shape[i]));
            }
        }
    }

    private static void CheckLimits(IReadOnlyList<NamedTensor> inputs, RequestLimits limits)
    {
        foreach (var input in inputs)
        {
            if (input.Shape.Length > 0 && input.Shape[0] > limits.MaxRequestBatchSize)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.BatchTooLarge,
                    $"input '{input.Name}' has batch size {input.Shape[0]}; this server accepts at most {limits.MaxRequestBatchSize} per request ({ServerFlags.MaxRequestBatchSize}); split the request.");
            }

            if (input.Shape.Length == 3 && input.Shape[1] > limits.MaxSequenceLength)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.SequenceTooLong,
                    $"input '{input.Name}' has sequence length {input.Shape[1]}; this server accepts at most {limits.MaxSequenceLength} steps ({ServerFlags.MaxSequenceLength}).");
            }
        }
    }

    private static void CheckSequenceLengths(IReadOnlyList<NamedTensor> inputs)
    {
        var sequences = inputs.FirstOrDefault(i => i.Shape.Length == 3);
        if (sequences is null)
        {
            return;
        }

        var time = sequences.Shape[1];
        foreach (var input in inputs)
        {
            if (input.Shape.Length != 1 || !SequenceLengthNames.Contains(input.Name, StringComparer.Ordinal))
            {
                continue;
            }

            for (var b = 0; b < input.Data.Length; b++)
            {
                var length = input.Data switch
                {
                    int[] ints => ints[b],
                    long[] longs => longs[b],
                    _ => 1,
                };
                if (length < 1 || length > time)
                {
                    throw InferenceException.Invalid(SchemaErrorReasons.SequenceLengthOutOfRange,
                        $"input '{input.Name}'[{b}] is {length}; each sequence length must be between 1 and the time axis of '{sequences.Name}' ({time}).");
                }
            }
        }
    }

    private static string DescribeInputs(ModelSignature signature) =>
        string.Join(", ", signature.Inputs.Select(s => $"'{s.Name}' {s.DataType} {s.DescribeShape()}"));
}
