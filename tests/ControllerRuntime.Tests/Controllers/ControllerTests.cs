using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using k8s.Autorest;
using ControllerRuntime.Controllers;
using ControllerRuntime.Metrics;
using ControllerRuntime.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ControllerRuntime.Tests.Controllers;

public sealed class ControllerTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task ManyWorkersNeverReconcileOneKeyTwiceAtOnce()
    {
        // The probe holds the first reconciles until all three keys are in flight at once: a controller that did not
        // reconcile different keys in parallel never opens that gate and fails here, whatever the machine's load.
        var reconciler = new ConcurrencyProbe(keys: 3);
        using var controller = NewController(reconciler, new FakeTimeProvider(), workers: 8);
        using var cts = new CancellationTokenSource();
        var run = controller.RunAsync(cts.Token);

        // Hammer three keys while reconciles are in flight.
        for (var round = 0; round < 200; round++)
        {
            controller.Enqueue("ns/a");
            controller.Enqueue("ns/b");
            controller.Enqueue("ns/c");
            await Task.Yield();
        }
        await Poll.UntilAsync(() => reconciler.Total >= 3 && controller.Queue.Count == 0 && reconciler.InFlight == 0, TimeSpan.FromSeconds(60));
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, reconciler.MaxConcurrentPerKey);
        Assert.Equal(3, reconciler.MaxConcurrentOverall);
        Assert.True(reconciler.GateOpened, "the three keys were never reconciled at the same time");
    }

    [Fact]
    public async Task FailedReconcileIsRetriedWithBackoffThenForgotten()
    {
        var time = new FakeTimeProvider();
        var reconciler = new Flaky(failures: 2);
        using var controller = NewController(reconciler, time, workers: 1);
        using var cts = new CancellationTokenSource();
        var run = controller.RunAsync(cts.Token);

        controller.Enqueue("ns/a");
        await Poll.UntilAsync(() => reconciler.Attempts == 1 && controller.Queue.WaitingCount == 1, TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromMilliseconds(5));
        await Poll.UntilAsync(() => reconciler.Attempts == 2 && controller.Queue.WaitingCount == 1, TimeSpan.FromSeconds(30));
        Assert.Equal(2, controller.Queue.Failures("ns/a"));
        // The fake clock fires due timers inside Advance, so right after it the queue shows whether the 10 ms backoff
        // has passed: still waiting after 9 ms (a shorter backoff would have moved the key on already), released at 10.
        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Equal(1, controller.Queue.WaitingCount);
        Assert.Equal(2, reconciler.Attempts);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, controller.Queue.WaitingCount);
        await Poll.UntilAsync(() => reconciler.Attempts == 3, TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => controller.Queue.Failures("ns/a") == 0, TimeSpan.FromSeconds(30));

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ConflictIsRequeuedWithBackoffAndCountedApartFromErrors()
    {
        var time = new FakeTimeProvider();
        var reconciler = new Conflicting(conflicts: 1);
        var results = new ConcurrentQueue<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == _meters && instrument.Name == "controller_reconcile_total") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (value == 0) return;
            foreach (var tag in tags)
            {
                if (tag.Key == "result") results.Enqueue((string)tag.Value!);
            }
        });
        listener.Start();
        using var controller = NewController(reconciler, time, workers: 1);
        using var cts = new CancellationTokenSource();
        var run = controller.RunAsync(cts.Token);

        controller.Enqueue("ns/a");
        await Poll.UntilAsync(() => reconciler.Attempts == 1 && controller.Queue.WaitingCount == 1, TimeSpan.FromSeconds(30));
        Assert.Equal(1, controller.Queue.Failures("ns/a"));
        time.Advance(TimeSpan.FromMilliseconds(5));
        await Poll.UntilAsync(() => reconciler.Attempts == 2 && controller.Queue.Failures("ns/a") == 0, TimeSpan.FromSeconds(30));
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["conflict", "success"], results.ToArray());
    }

    [Fact]
    public async Task RequeueAfterGoesThroughTheSameQueue()
    {
        var time = new FakeTimeProvider();
        var reconciler = new Requeueing(TimeSpan.FromSeconds(30));
        using var controller = NewController(reconciler, time, workers: 2);
        using var cts = new CancellationTokenSource();
        var run = controller.RunAsync(cts.Token);

        controller.Enqueue("ns/a");
        await Poll.UntilAsync(() => reconciler.Attempts == 1 && controller.Queue.WaitingCount == 1, TimeSpan.FromSeconds(30));
        // An event for the same key arriving meanwhile is reconciled once, not alongside the timed requeue: one reconcile
        // now, and one timer for the key afterwards (its requeue and the earlier one due at the same instant are one).
        controller.Enqueue("ns/a");
        await Poll.UntilAsync(() => reconciler.Attempts == 2 && controller.Queue.WaitingCount == 1 && controller.Queue.Count == 0, TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => reconciler.Attempts >= 3 && controller.Queue.WaitingCount == 1 && controller.Queue.Count == 0, TimeSpan.FromSeconds(30));
        Assert.Equal(3, reconciler.Attempts);

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private Controller NewController(IReconciler reconciler, TimeProvider time, int workers) => new(
        "test", reconciler, new ControllerOptions { Workers = workers, ResyncPeriod = TimeSpan.Zero },
        new ControllerMetrics(_meters), time, NullLogger.Instance);

    private sealed class ConcurrencyProbe(int keys) : IReconciler
    {
        private readonly ConcurrentDictionary<string, int> _running = new();
        private readonly TaskCompletionSource _allKeysInFlight = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;
        private int _total;
        private int _maxPerKey;
        private int _maxOverall;

        public int Total => Volatile.Read(ref _total);
        public int InFlight => Volatile.Read(ref _inFlight);
        public int MaxConcurrentPerKey => Volatile.Read(ref _maxPerKey);
        public int MaxConcurrentOverall => Volatile.Read(ref _maxOverall);
        public bool GateOpened => _allKeysInFlight.Task.IsCompletedSuccessfully;

        public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
        {
            var key = request.ToString();
            var perKey = _running.AddOrUpdate(key, 1, (_, n) => n + 1);
            var overall = Interlocked.Increment(ref _inFlight);
            Max(ref _maxPerKey, perKey);
            Max(ref _maxOverall, overall);
            if (overall >= keys) _allKeysInFlight.TrySetResult();
            try
            {
                await _allKeysInFlight.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            }
            catch (TimeoutException)
            {
                // Left closed: GateOpened says so in the assertion.
            }
            await Task.Delay(5, cancellationToken); // keeps each reconcile open while the test enqueues its key again
            _running.AddOrUpdate(key, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _total);
            return ReconcileResult.Done;
        }

        private static void Max(ref int target, int value)
        {
            int current;
            while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }
    }

    private sealed class Flaky(int failures) : IReconciler
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempts);
            if (attempt <= failures) throw new HttpRequestException("API server unavailable");
            return Task.FromResult(ReconcileResult.Done);
        }
    }

    private sealed class Conflicting(int conflicts) : IReconciler
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) <= conflicts)
            {
                throw new HttpOperationException("Operation cannot be fulfilled: the object has been modified")
                {
                    Response = new HttpResponseMessageWrapper(new HttpResponseMessage(HttpStatusCode.Conflict), ""),
                };
            }
            return Task.FromResult(ReconcileResult.Done);
        }
    }

    private sealed class Requeueing(TimeSpan after) : IReconciler
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            return Task.FromResult(ReconcileResult.After(after));
        }
    }
}
