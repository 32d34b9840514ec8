using GruServer.Backends;
using GruServer.Inference;

namespace GruServer.Sequences;

/// <summary>One GRU's state as one sequence holds it: the model input it is fed through, the output it is read from,
/// and its shape for a single sequence (batch axis 1).</summary>
internal sealed record StateTensor(TensorSpec Input, TensorSpec Output, long[] Shape)
{
    public int Elements => checked((int)NamedTensor.ElementCount(Shape));
}

/// <summary>The state tensors of a model served Stateful, read from its signature once: every GRU's initial_h input
/// and Y_h output (<see cref="GruOnnx.Reading.GruStateTensors"/>), batched on the same axis, fixed elsewhere.</summary>
internal sealed class SequenceStateLayout
{
    private SequenceStateLayout(IReadOnlyList<StateTensor> tensors) => Tensors = tensors;

    public IReadOnlyList<StateTensor> Tensors { get; }

    /// <summary>The layout, or a <see cref="ModelLoadException"/> saying why this model cannot be served Stateful.</summary>
    public static SequenceStateLayout For(ModelSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        const string Refused = "--sessions-mode Stateful needs every GRU's initial_h fed by a model input and its Y_h returned as a model output, so each sequence's hidden state can be carried between requests";
        if (signature.State is not { } trace || !trace.CanCarryState)
        {
            var why = signature.State?.Problems is { Count: > 0 } problems ? string.Join("; ", problems) : "the model's GRU nodes could not be traced";
            throw new ModelLoadException($"{Refused}: {why}. Export the model with initial_h inputs and Y_h outputs, or serve it Stateless.");
        }

        var tensors = new List<StateTensor>(trace.Pairs.Count);
        foreach (var pair in trace.Pairs)
        {
            var input = signature.Inputs.First(i => i.Name == pair.Input);
            var output = signature.Outputs.First(o => o.Name == pair.Output);
            if (input.BatchAxis < 0 || output.BatchAxis != input.BatchAxis || input.DataType != output.DataType
                || input.Shape.Where((d, i) => i != input.BatchAxis).Any(d => d < 0))
            {
                throw new ModelLoadException($"{Refused}: state input '{input.Name}' {input.DescribeShape()} and output '{output.Name}' {output.DescribeShape()} " +
                    "must share the batch axis and datatype and fix every other dimension.");
            }

            var shape = (long[])input.Shape.Clone();
            shape[input.BatchAxis] = 1;
            tensors.Add(new StateTensor(input, output, shape));
        }

        return new SequenceStateLayout(tensors);
    }

    /// <summary>The state a new sequence starts from: zeros, as the GRU op assumes when initial_h is left out.</summary>
    public IReadOnlyList<NamedTensor> Zeros() =>
        [.. Tensors.Select(t => new NamedTensor(t.Input.Name, t.Input.DataType, t.Shape, t.Input.DataType == TensorDataType.FP64 ? new double[t.Elements] : new float[t.Elements]))];

    public bool IsStateInput(string name) => Tensors.Any(t => t.Input.Name == name);

    public bool IsStateOutput(string name) => Tensors.Any(t => t.Output.Name == name);
}
