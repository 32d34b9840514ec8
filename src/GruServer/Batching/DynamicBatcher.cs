using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GruServer.Backends;
using GruServer.Hosting;
using GruServer.Inference;
using GruServer.Telemetry;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Logging;

namespace GruServer.Batching;

/// <summary>Runs concurrent requests for the model as one ONNX Runtime batch (like Triton's dynamic batcher): a
/// request is queued, one loop takes the oldest, gathers compatible requests already queued or arriving within
/// <c>--max-queue-delay</c> up to <c>--max-batch-size</c> sequences, runs them together and hands each its rows.</summary>
/// <remarks>
/// A GRU at small batch is bound by reading its recurrent weights every step, so one run for many sequences costs
/// little more than one for a single sequence. One batch runs at a time: ONNX Runtime already spreads a run over
/// its intra-op threads, and two concurrent runs would only compete for the same cores.
/// The queue is bounded by an admission count rather than by the channel's capacity, so a request whose client
/// goes away frees its place at once instead of when the loop reaches it.
/// </remarks>
internal sealed partial class DynamicBatcher : IAsyncDisposable
{
    private readonly Channel<QueuedRequest> _queue = Channel.CreateUnbounded<QueuedRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConditionalWeakTable<IModelBackend, BatchLayout> _layouts = [];
    private readonly int _maxBatchSize;
    private readonly TimeSpan _maxQueueDelay;
    private readonly int _maxQueueSize;
    private readonly GruServerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<DynamicBatcher> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private int _depth;
    private int _arriving;
    private TaskCompletionSource _noneArriving = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DynamicBatcher(GruServerOptions options, GruServerMetrics metrics, TimeProvider time, ILogger<DynamicBatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxBatchSize = options.MaxBatchSize;
        _maxQueueDelay = options.MaxQueueDelay;
        _maxQueueSize = options.MaxQueueSize;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _loop = Task.Run(RunLoopAsync);
    }

    /// <summary>Marks a request as on its way (its body being read and validated) until disposed: the batcher waits
    /// for a batch to fill only while some request is on its way, so a lone client never pays the queue delay.</summary>
    public Arrival Announce()
    {
        Interlocked.Increment(ref _arriving);
        return new Arrival(this);
    }

    /// <summary>Requests waiting for a run right now.</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>Queues the request and completes with its outputs once its batch has run. Throws an
    /// <see cref="InferenceErrorKind.Overloaded"/> error at once when the queue is full, and leaves the queue
    /// when <paramref name="cancellationToken"/> fires before the request is taken into a batch.</summary>
    public Task<IReadOnlyList<NamedTensor>> RunAsync(
        IModelBackend backend, IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backend);
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Increment(ref _depth) > _maxQueueSize)
        {
            Interlocked.Decrement(ref _depth);
            throw new InferenceException(InferenceErrorKind.Overloaded,
                $"the server's queue is full ({_maxQueueSize} requests waiting, {ServerFlags.MaxQueueSize}); retry after a moment or add replicas.");
        }

        _metrics.QueueDepthChanged(1);
        var layout = _layouts.GetValue(backend, b => BatchLayout.For(b.Signature));
        var (rows, time) = layout.SizeOf(inputs);
        var request = new QueuedRequest(backend, inputs, outputNames, layout.CanBatch ? layout.KeyOf(inputs, outputNames) : null, rows, time, _time.GetTimestamp());
        request.WhenCancelled(cancellationToken, () =>
        {
            Interlocked.Decrement(ref _depth);
            _metrics.QueueDepthChanged(-1);
        });
        if (!_queue.Writer.TryWrite(request) && request.TryTake())
        {
            Interlocked.Decrement(ref _depth);
            _metrics.QueueDepthChanged(-1);
            throw new InferenceException(InferenceErrorKind.ModelNotReady, "the server is shutting down; retry on another replica.");
        }

        return request.Completion;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private async Task RunLoopAsync()
    {
        // Requests read from the channel that could not join the batch being formed (other outputs, other time
        // length without masking, or no room left); they stay queued, oldest first, for the next batches.
        var carried = new List<QueuedRequest>();
        var stop = _stopping.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (carried.Count == 0 && !await _queue.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
                {
                    break;
                }

                var batch = await GatherAsync(carried, stop).ConfigureAwait(false);
                if (batch.Count > 0)
                {
                    Run(batch, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // The loop must outlive any one failure; the requests of a failed batch get the error.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.LoopFailed(_logger, e);
            }
        }

        foreach (var request in carried)
        {
            request.Abandon();
        }

        while (_queue.Reader.TryRead(out var request))
        {
            request.Abandon();
        }
    }

    private async Task<List<QueuedRequest>> GatherAsync(List<QueuedRequest> carried, CancellationToken stop)
    {
        var batch = new List<QueuedRequest>();
        var head = TakeHead(carried);
        if (head is null)
        {
            return batch;
        }

        Admit(batch, head);
        var rows = head.Rows;
        if (head.Key is null)
        {
            return batch;
        }

        // Older requests first: those carried over from earlier rounds, then the channel.
        for (var i = 0; i < carried.Count && rows < _maxBatchSize; i++)
        {
            var candidate = carried[i];
            if (candidate.Key == head.Key && rows + candidate.Rows <= _maxBatchSize && candidate.TryTake())
            {
                carried.RemoveAt(i--);
                Admit(batch, candidate);
                rows += candidate.Rows;
            }
        }

        var deadline = _time.GetTimestamp() + (long)(_maxQueueDelay.TotalSeconds * _time.TimestampFrequency);
        while (rows < _maxBatchSize)
        {
            if (_queue.Reader.TryRead(out var next))
            {
                if (next.IsCancelled)
                {
                    continue;
                }

                if (next.Key == head.Key && rows + next.Rows <= _maxBatchSize && next.TryTake())
                {
                    Admit(batch, next);
                    rows += next.Rows;
                }
                else if (!next.IsCancelled)
                {
                    carried.Add(next);
                }

                continue;
            }

            // Nothing on its way means nothing can join before the deadline: run now rather than wait for nobody.
            var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero || Volatile.Read(ref _arriving) == 0 || !await WaitForArrivalAsync(remaining, stop).ConfigureAwait(false))
            {
                break;
            }
        }

        return batch;
    }

    private QueuedRequest? TakeHead(List<QueuedRequest> carried)
    {
        while (carried.Count > 0)
        {
            var request = carried[0];
            carried.RemoveAt(0);
            if (request.TryTake())
            {
                return request;
            }
        }

        while (_queue.Reader.TryRead(out var request))
        {
            if (request.TryTake())
            {
                return request;
            }
        }

        return null;
    }

    private void Admit(List<QueuedRequest> batch, QueuedRequest request)
    {
        Interlocked.Decrement(ref _depth);
        _metrics.QueueDepthChanged(-1);
        _metrics.RecordQueueWait(_time.GetElapsedTime(request.Enqueued));
        batch.Add(request);
    }

    /// <summary>True when a request arrived, or the last announced request was settled, within
    /// <paramref name="timeout"/>; false when the wait ran out.</summary>
    private async Task<bool> WaitForArrivalAsync(TimeSpan timeout, CancellationToken stop)
    {
        var noneArriving = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _noneArriving, noneArriving); // a full fence: the read of _arriving below stays after it
        if (Volatile.Read(ref _arriving) == 0)
        {
            return true;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
        wait.CancelAfter(timeout);
        var arrived = _queue.Reader.WaitToReadAsync(wait.Token).AsTask();
        if (await Task.WhenAny(arrived, noneArriving.Task).ConfigureAwait(false) != arrived)
        {
            await wait.CancelAsync().ConfigureAwait(false);
            return true;
        }

        try
        {
            return await arrived.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    private void Run(List<QueuedRequest> batch, CancellationToken stop)
    {
        _metrics.RecordBatchSize(batch.Sum(r => r.Rows));
        if (batch.Count == 1)
        {
            RunAlone(batch[0], stop);
            return;
        }

        var backend = batch[0].Backend;
        var layout = _layouts.GetValue(backend, b => BatchLayout.For(b.Signature));
        IReadOnlyList<IReadOnlyList<NamedTensor>> split;
        try
        {
            var merged = layout.Merge([.. batch.Select(r => r.Inputs)], pooled: true);
            IReadOnlyList<NamedTensor> outputs = [];
            try
            {
                outputs = Timed(() => backend.Run(merged, batch[0].OutputNames, stop, pooledOutputs: true));
                split = layout.Split(outputs, [.. batch.Select(r => (r.Rows, r.Time))]);
            }
            finally
            {
                // The run copied its outputs out, so ONNX Runtime holds none of these any more; and Split copied each
                // request's rows out of the merged outputs.
                foreach (var tensor in merged.Concat(outputs))
                {
                    PooledTensors.Return(tensor.Data);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One request the validator let through but the model rejects must not fail its batch mates: run each
            // alone so every request gets its own answer.
            Log.BatchFailed(_logger, batch.Count, e.Message);
            foreach (var request in batch)
            {
                RunAlone(request, stop);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Complete(split[i]);
        }
    }

    private void RunAlone(QueuedRequest request, CancellationToken stop)
    {
        try
        {
            request.Complete(Timed(() => request.Backend.Run(request.Inputs, request.OutputNames, stop)));
        }
#pragma warning disable CA1031 // Handed to the request, whose handler maps it to a status code.
        catch (Exception e)
#pragma warning restore CA1031
        {
            request.Fail(e);
        }
    }

    /// <summary>Runs the model and records how long the run took (<c>gru_model_run_duration</c>), failed runs included.</summary>
    private IReadOnlyList<NamedTensor> Timed(Func<IReadOnlyList<NamedTensor>> run)
    {
        var started = _time.GetTimestamp();
        try
        {
            return run();
        }
        finally
        {
            _metrics.RecordModelRun(_time.GetElapsedTime(started));
        }
    }

    /// <summary>A request on its way to the queue; see <see cref="Announce"/>.</summary>
    internal sealed class Arrival(DynamicBatcher batcher) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0 && Interlocked.Decrement(ref batcher._arriving) == 0)
            {
                // Wakes a batch waiting for this request (queued by now, or failed validation): nothing else is coming.
                Volatile.Read(ref batcher._noneArriving).TrySetResult();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(120, LogLevel.Warning, "A batch of {Requests} requests failed ({Reason}); running each alone")]
        public static partial void BatchFailed(ILogger logger, int requests, string reason);

        [LoggerMessage(121, LogLevel.Error, "The batching loop failed; it continues with the next batch")]
        public static partial void LoopFailed(ILogger logger, Exception exception);
    }
}
