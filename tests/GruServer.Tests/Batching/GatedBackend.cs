using GruServer.Backends;
using GruServer.Inference;

namespace GruServer.Tests.Batching;

/// <summary>The real ONNX Runtime backend, with a gate the test opens to let runs proceed, so what queues behind a
/// running batch is decided by the test and not by timing; records the (rows, time) of every run it makes.</summary>
internal sealed class GatedBackend(IModelBackend inner) : IModelBackend
{
    private readonly SemaphoreSlim _gate = new(0);
    private readonly SemaphoreSlim _entered = new(0);
    private readonly List<(long Rows, long Time)> _runs = [];

    public ModelSignature Signature => inner.Signature;

    public string ExecutionProvider => inner.ExecutionProvider;

    public IModelBackend Inner => inner;

    public IReadOnlyList<(long Rows, long Time)> Runs
    {
        get
        {
            lock (_runs)
            {
                return [.. _runs];
            }
        }
    }

    /// <summary>Lets <paramref name="runs"/> more runs through.</summary>
    public void Open(int runs = 1000) => _gate.Release(runs);

    /// <summary>Completes once a run has reached the gate (it is then taken out of the queue and blocked).</summary>
    public Task EnteredAsync() => _entered.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(t => Assert.True(t.Result, "no run reached the gate"), TaskScheduler.Default);

    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken, bool pooledOutputs = false)
    {
        // Rows and steps at the model's own axes (a time-major model's batch is its dimension 1).
        var spec = inner.Signature.Sequences ?? inner.Signature.Inputs[0];
        var sequence = inputs.First(i => i.Name == spec.Name);
        lock (_runs)
        {
            _runs.Add((sequence.Shape[spec.BatchAxis], spec.TimeAxis >= 0 ? sequence.Shape[spec.TimeAxis] : 1));
        }

        _entered.Release();
        _gate.Wait(cancellationToken);
        return inner.Run(inputs, outputNames, cancellationToken, pooledOutputs);
    }

    public void Dispose()
    {
        inner.Dispose();
        _gate.Dispose();
        _entered.Dispose();
    }
}
