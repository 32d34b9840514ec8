using ControllerRuntime.Queues;

namespace ControllerRuntime.Tests.Queues;

public sealed class ExponentialBackoffTests
{
    public static TheoryData<string, int, double> Rows => new()
    {
        { "first failure waits the base delay", 1, 5 },
        { "second failure doubles", 2, 10 },
        { "tenth failure", 10, 2560 },
        { "capped at the maximum", 30, 1_000_000 },
        { "stays capped far beyond", 200, 1_000_000 },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void DelayDoublesPerFailureUpToTheCap(string scenario, int failures, double expectedMs)
    {
        var backoff = ExponentialBackoff.Default();
        var delay = TimeSpan.Zero;
        for (var i = 0; i < failures; i++) delay = backoff.NextDelay("k");
        Assert.True(Math.Abs(delay.TotalMilliseconds - expectedMs) < 0.001, $"{scenario}: {delay.TotalMilliseconds} ms");
    }

    [Fact]
    public void KeysBackOffIndependently()
    {
        var backoff = ExponentialBackoff.Default();
        backoff.NextDelay("a");
        backoff.NextDelay("a");
        Assert.Equal(TimeSpan.FromMilliseconds(5), backoff.NextDelay("b"));
        backoff.Forget("a");
        Assert.Equal(TimeSpan.FromMilliseconds(5), backoff.NextDelay("a"));
    }
}
