using ControllerRuntime.Queues;
using ControllerRuntime.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ControllerRuntime.Tests.Queues;

public sealed class WorkQueueTests
{
    private readonly FakeTimeProvider _time = new();

    private WorkQueue NewQueue() => new(_time, new ExponentialBackoff(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1)));

    [Fact]
    public void AddingTheSameItemTwiceQueuesItOnce()
    {
        using var queue = NewQueue();
        queue.Add("ns/a");
        queue.Add("ns/a");
        queue.Add("ns/b");
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public async Task ItemsComeOutInOrder()
    {
        using var queue = NewQueue();
        queue.Add("ns/a");
        queue.Add("ns/b");
        Assert.Equal("ns/a", await queue.GetAsync(CancellationToken.None));
        Assert.Equal("ns/b", await queue.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AddingAnItemWhileItIsProcessedHasNoEffectUntilDone()
    {
        using var queue = NewQueue();
        queue.Add("ns/a");
        var item = await queue.GetAsync(CancellationToken.None);

        queue.Add("ns/a");
        queue.Add("ns/a");
        Assert.Equal(0, queue.Count);
        var second = queue.GetAsync(CancellationToken.None);
        Assert.False(second.IsCompleted);

        queue.Done(item);
        Assert.Equal("ns/a", await second.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task DoneWithoutReAddLeavesTheQueueEmpty()
    {
        using var queue = NewQueue();
        queue.Add("ns/a");
        queue.Done(await queue.GetAsync(CancellationToken.None));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task DelayedItemAppearsOnlyAfterItsDelay()
    {
        using var queue = NewQueue();
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.Count);
        Assert.Equal(1, queue.WaitingCount);

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, queue.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Count);
        Assert.Equal("ns/a", await queue.GetAsync(CancellationToken.None));
    }

    [Fact]
    public void OfTwoDelaysForOneItemTheEarlierWinsAndTheItemIsQueuedOnce()
    {
        using var queue = NewQueue();
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(10));
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(1));
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));
        Assert.Equal(1, queue.WaitingCount);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Count);
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void DelayedItemThatIsAlreadyQueuedIsNotDuplicated()
    {
        using var queue = NewQueue();
        queue.Add("ns/a");
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void RateLimitedAddsBackOffExponentiallyUntilForgotten()
    {
        using var queue = NewQueue();
        queue.AddRateLimited("ns/a");
        _time.Advance(TimeSpan.FromMilliseconds(4));
        Assert.Equal(0, queue.Count);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, queue.Count);
        Assert.Equal(1, queue.Failures("ns/a"));

        queue.AddRateLimited("ns/a");
        queue.AddRateLimited("ns/a");
        Assert.Equal(3, queue.Failures("ns/a"));

        queue.Forget("ns/a");
        Assert.Equal(0, queue.Failures("ns/a"));
    }

    [Fact]
    public async Task ShutDownEndsWaitingGets()
    {
        using var queue = NewQueue();
        var waiting = queue.GetAsync(CancellationToken.None);
        queue.ShutDown();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        queue.Add("ns/a");
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task CancelledGetDoesNotLoseItems()
    {
        using var queue = NewQueue();
        using var cts = new CancellationTokenSource();
        var waiting = queue.GetAsync(cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        queue.Add("ns/a");
        Assert.Equal("ns/a", await queue.GetAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
