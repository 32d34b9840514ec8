using GruServing.Contract.Serving;

namespace GruServer.Inference;

/// <summary>Limits a request must respect beyond the model's own signature.</summary>
internal sealed record RequestLimits(int MaxRequestBatchSize, int MaxSequenceLength);

/// <summary>Checks a request against the model signature before it reaches ONNX Runtime, so every bad
/// input becomes a 400 that names the input and what was expected instead of a runtime failure.</summary>
/// <remarks>The one validation path of every protocol (HTTP/JSON, HTTP/binary, gRPC): readers only decode bytes into
/// tensors; names, datatypes, shapes, element counts, finiteness, limits and sequence lengths are checked here. The
/// batch and time axes are the model's own (<see cref="Axes.ModelAxes"/>), so a time-major <c>[seq, batch, input]</c>
/// model is limited on its dimension 1 for batch and its dimension 0 for time.</remarks>
internal static class InferenceValidator
{
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
            CheckData(input);
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
        CheckLimits(request.Inputs, signature, limits);
        CheckSequenceLengths(byName, signature);

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

    private static void CheckLimits(IReadOnlyList<NamedTensor> inputs, ModelSignature signature, RequestLimits limits)
    {
        foreach (var input in inputs)
        {
            var spec = signature.Inputs.First(s => s.Name == input.Name);
            if (spec.BatchAxis >= 0 && input.Shape[spec.BatchAxis] > limits.MaxRequestBatchSize)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.BatchTooLarge,
                    $"input '{input.Name}' has batch size {input.Shape[spec.BatchAxis]} (dimension {spec.BatchAxis}); this server accepts at most {limits.MaxRequestBatchSize} per request ({ServerFlags.MaxRequestBatchSize}); split the request.");
            }

            if (spec.TimeAxis >= 0 && input.Shape[spec.TimeAxis] > limits.MaxSequenceLength)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.SequenceTooLong,
                    $"input '{input.Name}' has sequence length {input.Shape[spec.TimeAxis]} (dimension {spec.TimeAxis}); this server accepts at most {limits.MaxSequenceLength} steps ({ServerFlags.MaxSequenceLength}).");
            }
        }
    }

    /// <summary>Element count against the shape, and finite floating-point values: JSON cannot carry NaN, but raw
    /// binary and gRPC tensors can, and ONNX Runtime would answer NaN for them without complaint.</summary>
    private static void CheckData(NamedTensor input)
    {
        long expected;
        try
        {
            expected = NamedTensor.ElementCount(input.Shape);
        }
        catch (OverflowException)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch, $"input '{input.Name}' shape [{string.Join(", ", input.Shape)}] has too many elements.");
        }

        if (input.Data.Length != expected)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.DataLengthMismatch,
                $"input '{input.Name}' has {input.Data.Length} data elements but shape [{string.Join(", ", input.Shape)}] needs {expected}; data and shape must agree.");
        }

        var bad = input.Data switch
        {
            float[] f => IndexOfNonFinite(f),
            double[] d => IndexOfNonFinite(d),
            _ => -1,
        };
        if (bad >= 0)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.NonFinite,
                $"input '{input.Name}' data[{bad}] is {Convert.ToString(input.Data.GetValue(bad), System.Globalization.CultureInfo.InvariantCulture)}; {input.DataType} inputs must be finite numbers (no NaN or Infinity).");
        }
    }

    private static int IndexOfNonFinite<T>(T[] values)
        where T : System.Numerics.IFloatingPointIeee754<T>
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!T.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static void CheckSequenceLengths(Dictionary<string, NamedTensor> inputs, ModelSignature signature)
    {
        if (signature.SequenceLengths is not { } name || signature.Sequences is not { } sequenceSpec
            || !inputs.TryGetValue(name, out var lengths) || !inputs.TryGetValue(sequenceSpec.Name, out var sequences))
        {
            return;
        }

        var time = sequences.Shape[sequenceSpec.TimeAxis];
        for (var b = 0; b < lengths.Data.Length; b++)
        {
            var length = lengths.Data switch
            {
                int[] ints => ints[b],
                long[] longs => longs[b],
                _ => 1,
            };
            if (length < 1 || length > time)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.SequenceLengthOutOfRange,
                    $"input '{name}'[{b}] is {length}; each sequence length must be between 1 and the time axis of '{sequences.Name}' ({time}, dimension {sequenceSpec.TimeAxis}).");
            }
        }
    }

    private static string DescribeInputs(ModelSignature signature) =>
        string.Join(", ", signature.Inputs.Select(s => $"'{s.Name}' {s.DataType} {s.DescribeShape()}"));
}
