namespace ControllerRuntime.Queues;

/// <summary>
/// A deduplicating work queue with client-go semantics: an item is queued at most once; an item added while
/// it is being processed is queued again only when <see cref="Done"/> is called, so two workers never hold
/// the same item; delayed and rate-limited adds go through the same queue (no second requeue path).
/// </summary>
public sealed class WorkQueue : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<string> _queue = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly HashSet<string> _processing = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (DateTimeOffset Due, ITimer Timer)> _waiting = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _available = new(0);
    private readonly TimeProvider _time;
    private readonly ExponentialBackoff _backoff;
    private bool _shutDown;

    /// <summary>Creates a queue whose delays run on <paramref name="time"/> and whose failures back off with <paramref name="backoff"/>.</summary>
    public WorkQueue(TimeProvider time, ExponentialBackoff backoff)
    {
        _time = time;
        _backoff = backoff;
    }

    /// <summary>Items ready to be handed out (not counting those being processed or waiting on a delay).</summary>
    public int Count
    {
        get { lock (_lock) return _queue.Count; }
    }

    /// <summary>Items waiting for a delay to pass.</summary>
    public int WaitingCount
    {
        get { lock (_lock) return _waiting.Count; }
    }

    /// <summary>Queues <paramref name="item"/> unless it is already queued; an item being processed is queued again after <see cref="Done"/>.</summary>
    public void Add(string item)
    {
        lock (_lock)
        {
            if (_shutDown || !_dirty.Add(item)) return;
            if (_processing.Contains(item)) return;
            _queue.Enqueue(item);
        }
        _available.Release();
    }

    /// <summary>Queues <paramref name="item"/> after <paramref name="delay"/>; of several pending delays for one item the earliest wins.</summary>
    public void AddAfter(string item, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(item);
            return;
        }

        lock (_lock)
        {
            if (_shutDown) return;
            var due = _time.GetUtcNow() + delay;
            if (_waiting.TryGetValue(item, out var pending))
            {
                if (pending.Due <= due) return;
                pending.Timer.Dispose();
            }
            var timer = _time.CreateTimer(static state =>
            {
                var (queue, key) = ((WorkQueue, string))state!;
                queue.FireDelayed(key);
            }, (this, item), delay, Timeout.InfiniteTimeSpan);
            _waiting[item] = (due, timer);
        }
    }

    /// <summary>Queues <paramref name="item"/> after its next exponential backoff delay.</summary>
    public void AddRateLimited(string item) => AddAfter(item, _backoff.NextDelay(item));

    /// <summary>Clears the failure history of <paramref name="item"/> so its next backoff starts from the base delay.</summary>
    public void Forget(string item) => _backoff.Forget(item);

    /// <summary>How many times in a row <paramref name="item"/> has failed.</summary>
    public int Failures(string item) => _backoff.Failures(item);

    /// <summary>Waits for the next item and marks it as being processed; the caller must call <see cref="Done"/>.</summary>
    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_shutDown) throw new OperationCanceledException("The work queue is shut down.");
                if (_queue.Count == 0) continue;
                var item = _queue.Dequeue();
                _processing.Add(item);
                _dirty.Remove(item);
                return item;
            }
        }
    }

    /// <summary>Marks <paramref name="item"/> as processed; if it was added meanwhile it is queued again now.</summary>
    public void Done(string item)
    {
        lock (_lock)
        {
            _processing.Remove(item);
            if (_shutDown || !_dirty.Contains(item)) return;
            _queue.Enqueue(item);
        }
        _available.Release();
    }

    /// <summary>Stops handing out items: pending and future <see cref="GetAsync"/> calls end with cancellation.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            if (_shutDown) return;
            _shutDown = true;
            foreach (var (_, timer) in _waiting.Values) timer.Dispose();
            _waiting.Clear();
        }
        // Wake every waiter; each one sees _shutDown and throws.
        _available.Release(1024);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ShutDown();
        _available.Dispose();
    }

    private void FireDelayed(string item)
    {
        lock (_lock)
        {
            if (!_waiting.Remove(item, out var pending)) return;
            pending.Timer.Dispose();
        }
        Add(item);
    }
}
