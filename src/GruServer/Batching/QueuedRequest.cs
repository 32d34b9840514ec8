using GruServer.Backends;
using GruServer.Inference;

namespace GruServer.Batching;

/// <summary>One request waiting in the <see cref="DynamicBatcher"/>: its inputs, what may batch with it
/// (<see cref="Key"/>; null runs alone), and its completion. Exactly one of take (into a batch) and cancel wins.</summary>
internal sealed class QueuedRequest(
    IModelBackend backend, IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, string? key, int rows, int time, long enqueued)
{
    private const int Queued = 0, Taken = 1, Cancelled = 2;
    private readonly TaskCompletionSource<IReadOnlyList<NamedTensor>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _registration;
    private int _state;

    public IModelBackend Backend { get; } = backend;

    public IReadOnlyList<NamedTensor> Inputs { get; } = inputs;

    public IReadOnlyList<string> OutputNames { get; } = outputNames;

    public string? Key { get; } = key;

    public int Rows { get; } = rows;

    public int Time { get; } = time;

    public long Enqueued { get; } = enqueued;

    public Task<IReadOnlyList<NamedTensor>> Completion => _completion.Task;

    public bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

    /// <summary>Leaves the queue when <paramref name="cancellationToken"/> fires first; <paramref name="left"/> runs then.</summary>
    public void WhenCancelled(CancellationToken cancellationToken, Action left) =>
        _registration = cancellationToken.Register(() =>
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued)
            {
                left();
                _completion.TrySetCanceled(cancellationToken);
            }
        });

    /// <summary>Takes the request into a batch; false when it was cancelled first.</summary>
    public bool TryTake()
    {
        if (Interlocked.CompareExchange(ref _state, Taken, Queued) != Queued)
        {
            return false;
        }

        _registration.Dispose();
        return true;
    }

    public void Complete(IReadOnlyList<NamedTensor> outputs) => _completion.TrySetResult(outputs);

    public void Fail(Exception exception) => _completion.TrySetException(exception);

    /// <summary>The server stops before this request ran.</summary>
    public void Abandon()
    {
        if (TryTake())
        {
            Fail(new InferenceException(InferenceErrorKind.ModelNotReady, "the server stopped before this request ran; retry on another replica."));
        }
    }
}
