using GruServer.Batching;
using GruServer.Faults;
using GruServer.Hosting;
using GruServer.Sequences;
using GruServer.Telemetry;

namespace GruServer.Inference;

/// <summary>Runs an infer request end to end, independent of the protocol: fault injection, model lookup,
/// readiness, validation against the model signature, the ONNX Runtime call through the dynamic batcher, and the output-mean metric.</summary>
internal sealed class InferenceService
{
    private readonly ServedModel _model;
    private readonly FaultInjection _faults;
    private readonly GruServerMetrics _metrics;
    private readonly RequestLimits _limits;
    private readonly DynamicBatcher _batcher;
    private readonly SequenceSteps _sequences;

    public InferenceService(ServedModel model, FaultInjection faults, GruServerMetrics metrics, GruServerOptions options, DynamicBatcher batcher, SequenceSteps sequences)
    {
        ArgumentNullException.ThrowIfNull(options);
        _sequences = sequences;
        _model = model;
        _faults = faults;
        _metrics = metrics;
        _batcher = batcher;
        _limits = new RequestLimits(options.MaxRequestBatchSize, options.MaxSequenceLength);
    }

    /// <summary>The served model's state when <paramref name="modelName"/> is the served model; 404 otherwise.</summary>
    public ServedModel Find(string modelName) =>
        string.Equals(modelName, _model.Name, StringComparison.Ordinal)
            ? _model
            : throw new InferenceException(InferenceErrorKind.ModelNotFound, $"model '{modelName}' is not served here; this server serves '{_model.Name}'.");

    /// <summary>Infers with inputs read by <paramref name="readRequest"/> once the model is known to be ready,
    /// so a request for a missing or unready model is answered before its body is parsed.</summary>
    public async Task<InferenceResult> InferAsync(string modelName, Func<ModelSignature, CancellationToken, Task<InferenceRequest>> readRequest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readRequest);
        var backend = ReadyBackend(modelName);
        if (await _faults.ApplyAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InferenceException(InferenceErrorKind.InjectedFault,
                $"injected fault: this request was failed on purpose (--fault-error-rate {_faults.ErrorRate})");
        }

        // Announced while its body is read and validated, until queued: the batcher waits for batch mates only then.
        InferenceRequest request;
        Task<IReadOnlyList<NamedTensor>> run;
        SequenceStep? step = null;
        try
        {
            using (_batcher.Announce())
            {
                request = await readRequest(backend.Signature, cancellationToken).ConfigureAwait(false);
                (request, step) = _sequences.Begin(request, backend, _model.State.Digest ?? "");
                InferenceValidator.Validate(request, backend.Signature, _limits);
                var outputNames = request.RequestedOutputs is { Count: > 0 } requested
                    ? requested.Distinct(StringComparer.Ordinal).ToArray()
                    : backend.Signature.Outputs.Select(o => o.Name).ToArray();
                run = _batcher.RunAsync(backend, request.Inputs, outputNames, cancellationToken);
            }

            var outputs = await run.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            byte[]? state = null;
            var handoff = false;
            if (step is not null)
            {
                (outputs, state, handoff) = step.Finish(outputs);
            }

            if (PrimaryMean(outputs) is { } mean)
            {
                _metrics.RecordOutputMean(mean);
            }

            return new InferenceResult(_model.Name, _model.Revision, request.Id, outputs, state, handoff);
        }
        finally
        {
            // A request that failed anywhere leaves its sequence as it was.
            step?.Dispose();
        }
    }

    private Backends.IModelBackend ReadyBackend(string modelName)
    {
        Find(modelName);
        // Loaded is enough: after SIGTERM readiness is false so balancers stop routing here, but whatever still
        // arrives during --shutdown-delay, or was accepted before, is served.
        var state = _model.State;
        if (state.Status != ModelStatus.Ready || state.Backend is null)
        {
            throw new InferenceException(InferenceErrorKind.ModelNotReady, $"model '{modelName}' is not ready: {state.Message}.");
        }

        return state.Backend;
    }

    /// <summary>Mean of the first returned floating-point output: the prediction the drift SLO watches.</summary>
    private static double? PrimaryMean(IReadOnlyList<NamedTensor> outputs)
    {
        foreach (var output in outputs)
        {
            switch (output.Data)
            {
                case float[] { Length: > 0 } f:
                    double sum = 0;
                    foreach (var v in f)
                    {
                        sum += v;
                    }

                    return sum / f.Length;
                case double[] { Length: > 0 } d:
                    return d.Average();
            }
        }

        return null;
    }
}
