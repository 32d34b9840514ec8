using System.Runtime.CompilerServices;
using GruServer.Backends;
using GruServer.Inference;
using GruServing.Contract.Serving;

namespace GruServer.Sequences;

/// <summary>Turns a Stateful request into a model run and back: checks its sequence parameters, feeds the sequence's
/// state (stored, sent by the client, or zeros at start) into the model's initial_h inputs, and after the run keeps
/// the Y_h outputs as the sequence's new state. The run itself goes through the dynamic batcher like any request,
/// so concurrent sequences are stepped together as one batch.</summary>
internal sealed class SequenceSteps(SequenceStore store)
{
    private readonly ConditionalWeakTable<IModelBackend, SequenceStateLayout> _layouts = [];

    public bool Stateful => store.Settings.Mode == SessionMode.Stateful;

    /// <summary>The request with its sequence's state added as inputs, and the step to finish once it ran; null
    /// step for a Stateless server (which refuses sequence parameters rather than ignore them).</summary>
    public (InferenceRequest Request, SequenceStep? Step) Begin(InferenceRequest request, IModelBackend backend, string digest)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(backend);
        if (!Stateful)
        {
            return request.Sequence is null
                ? (request, null)
                : throw Invalid($"this server serves sequences Stateless ({ServerFlags.SessionsMode}): it keeps no state between requests, so " +
                    $"{SequenceParameters.Id} would be ignored; send each sequence whole, or serve the model with sessions.mode: Stateful.");
        }

        var control = request.Sequence
            ?? throw Invalid($"this server serves sequences Stateful: every request needs a {SequenceParameters.Id} parameter ({SequenceParameters.Start}=true on its first request).");
        var layout = _layouts.GetValue(backend, b => SequenceStateLayout.For(b.Signature));
        foreach (var input in request.Inputs)
        {
            if (layout.IsStateInput(input.Name))
            {
                throw Invalid($"input '{input.Name}' is the sequence's hidden state, which the server feeds in Stateful mode; leave it out, and send {SequenceParameters.State} to continue from a state you hold.");
            }

            var spec = backend.Signature.Inputs.FirstOrDefault(s => s.Name == input.Name);
            if (spec is { BatchAxis: >= 0 } && spec.BatchAxis < input.Shape.Length && input.Shape[spec.BatchAxis] != 1)
            {
                throw Invalid($"input '{input.Name}' has batch size {input.Shape[spec.BatchAxis]} (dimension {spec.BatchAxis}); a Stateful request carries one sequence: send batch size 1 per {SequenceParameters.Id}.");
            }
        }

        var clientState = control.State is null ? null : SequenceStateCodec.Decode(control.State, digest, layout);
        var lease = store.Acquire(control, digest, clientState);
        var initial = lease.Initial ?? layout.Zeros();
        var outputs = request.RequestedOutputs is { Count: > 0 } requested
            ? [.. requested.Concat(layout.Tensors.Select(t => t.Output.Name)).Distinct(StringComparer.Ordinal)]
            : (IReadOnlyList<string>?)null;
        return (request with { Inputs = [.. request.Inputs, .. initial], RequestedOutputs = outputs },
            new SequenceStep(store, lease, layout, control, digest, request.RequestedOutputs));
    }

    private static InferenceException Invalid(string message) => InferenceException.Invalid(SchemaErrorReasons.InvalidSequence, message);
}

/// <summary>One request of a sequence between <see cref="SequenceSteps.Begin"/> and its answer: disposing it without
/// <see cref="Finish"/> (the request failed) leaves the sequence as it was.</summary>
internal sealed class SequenceStep(
    SequenceStore store, SequenceLease lease, SequenceStateLayout layout, SequenceControl control, string digest, IReadOnlyList<string>? requested) : IDisposable
{
    private bool _settled;

    /// <summary>Keeps the run's state outputs as the sequence's state, and returns the outputs the client asked for
    /// (state outputs only when named) and the state for the client to hold: when asked, and always while the server
    /// drains (<c>Handoff</c>), so a sequence outlives this server by continuing elsewhere from that state.</summary>
    public (IReadOnlyList<NamedTensor> Outputs, byte[]? State, bool Handoff) Finish(IReadOnlyList<NamedTensor> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var state = layout.Tensors
            .Select(t => outputs.First(o => o.Name == t.Output.Name))
            .Zip(layout.Tensors, (o, t) => new NamedTensor(t.Input.Name, t.Input.DataType, t.Shape, o.Data))
            .ToList();
        _settled = true;
        store.Release(lease, state, control.End);
        var visible = outputs.Where(o => !layout.IsStateOutput(o.Name) || requested?.Contains(o.Name) == true).ToList();
        var handoff = store.Draining && !control.End;
        if (handoff)
        {
            store.CountHandoff();
        }

        return (visible, control.ReturnState || handoff ? SequenceStateCodec.Encode(digest, state) : null, handoff);
    }

    public void Dispose()
    {
        if (!_settled)
        {
            _settled = true;
            store.Release(lease, null, end: false);
        }
    }
}
