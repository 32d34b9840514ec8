using GruServer.Inference;
using GruServer.Sequences;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Time.Testing;

namespace GruServer.Tests.Sequences;

/// <summary>The sequence store's rules on a fake clock: unknown sequences need a start, end frees at once, idle ones
/// expire, the bound refuses new ones with a clear error, one request per sequence at a time, and a state never
/// survives a model change.</summary>
public sealed class SequenceStoreTests
{
    private const string Digest = "aa";
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(5);

    private readonly FakeTimeProvider _time = new();

    private SequenceStore Store(int maxSessions = 3) => new(new SessionSettings(SessionMode.Stateful, Idle, maxSessions), _time);

    private static IReadOnlyList<NamedTensor> State(float value) => [new NamedTensor("initial_h_0", TensorDataType.FP32, [1, 1, 1], new[] { value })];

    private static SequenceControl Control(string id, bool start = false, bool end = false) => new(id, start, end, null, false);

    private static float Value(SequenceLease lease) => ((float[])lease.Initial![0].Data)[0];

    [Fact]
    public void AStartedSequenceContinuesFromItsLastStateAndEndFreesIt()
    {
        using var store = Store();
        var first = store.Acquire(Control("a", start: true), Digest, null);
        Assert.Null(first.Initial); // zeros
        store.Release(first, State(1), end: false);
        Assert.Equal(1, store.Active);

        var second = store.Acquire(Control("a"), Digest, null);
        Assert.Equal(1, Value(second));
        store.Release(second, State(2), end: true);
        Assert.Equal(0, store.Active);

        var error = Assert.Throws<InferenceException>(() => store.Acquire(Control("a"), Digest, null));
        Assert.Equal(SchemaErrorReasons.UnknownSequence, error.Reason);
    }

    public static TheoryData<string, TimeSpan, bool> Expiry => new()
    {
        { "used within the idle timeout", TimeSpan.FromMinutes(4), true },
        { "idle exactly the timeout", TimeSpan.FromMinutes(5), true },
        { "idle past the timeout", TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1), false },
    };

    [Theory]
    [MemberData(nameof(Expiry))]
    public void IdleSequencesExpire(string scenario, TimeSpan idle, bool alive)
    {
        using var store = Store();
        store.Release(store.Acquire(Control("a", start: true), Digest, null), State(1), end: false);
        _time.Advance(idle);
        if (alive)
        {
            Assert.Equal(1, Value(store.Acquire(Control("a"), Digest, null)));
        }
        else
        {
            var error = Assert.Throws<InferenceException>(() => store.Acquire(Control("a"), Digest, null));
            Assert.Contains("unknown or expired", error.Message, StringComparison.Ordinal);
            Assert.Contains("5m", error.Message, StringComparison.Ordinal);
            Assert.Contains("sequence_start=true", error.Message, StringComparison.Ordinal);
        }

        Assert.False(string.IsNullOrEmpty(scenario));
    }

    [Fact]
    public void TheSweeperDropsIdleSequencesWithoutAnyRequest()
    {
        using var store = Store();
        store.Release(store.Acquire(Control("a", start: true), Digest, null), State(1), end: false);
        _time.Advance(Idle + TimeSpan.FromMinutes(1)); // the sweep timer fires on the fake clock
        Assert.Equal(0, store.Active);
    }

    [Fact]
    public void TheBoundRefusesNewSequencesUntilOneEndsOrExpires()
    {
        using var store = Store(maxSessions: 2);
        store.Release(store.Acquire(Control("a", start: true), Digest, null), State(1), end: false);
        store.Release(store.Acquire(Control("b", start: true), Digest, null), State(2), end: false);

        var full = Assert.Throws<InferenceException>(() => store.Acquire(Control("c", start: true), Digest, null));
        Assert.Equal(InferenceErrorKind.SessionsFull, full.Kind);
        Assert.Contains("maximum of 2 live sequences (--max-sessions)", full.Message, StringComparison.Ordinal);

        // A live sequence still continues while the store is full.
        store.Release(store.Acquire(Control("a", end: true), Digest, null), State(3), end: true);
        store.Release(store.Acquire(Control("c", start: true), Digest, null), State(4), end: false);

        _time.Advance(Idle + TimeSpan.FromSeconds(1));
        store.Release(store.Acquire(Control("d", start: true), Digest, null), State(5), end: false);
        Assert.Equal(1, store.Active);
    }

    [Fact]
    public void OneRequestPerSequenceAtATime()
    {
        using var store = Store();
        var held = store.Acquire(Control("a", start: true), Digest, null);
        var error = Assert.Throws<InferenceException>(() => store.Acquire(Control("a"), Digest, null));
        Assert.Contains("already has a request in flight", error.Message, StringComparison.Ordinal);
        store.Release(held, State(1), end: false);
        Assert.Equal(1, Value(store.Acquire(Control("a"), Digest, null)));
    }

    [Fact]
    public void AFailedRequestLeavesTheSequenceAsItWasAndAFailedStartMakesNone()
    {
        using var store = Store();
        store.Release(store.Acquire(Control("a", start: true), Digest, null), null, end: false);
        Assert.Equal(0, store.Active);

        store.Release(store.Acquire(Control("b", start: true), Digest, null), State(1), end: false);
        store.Release(store.Acquire(Control("b", end: true), Digest, null), null, end: false);
        Assert.Equal(1, Value(store.Acquire(Control("b"), Digest, null)));
    }

    [Fact]
    public void AStateNeverSurvivesAModelChange()
    {
        using var store = Store();
        store.Release(store.Acquire(Control("a", start: true), Digest, null), State(1), end: false);
        var error = Assert.Throws<InferenceException>(() => store.Acquire(Control("a"), "bb", null));
        Assert.Equal(SchemaErrorReasons.UnknownSequence, error.Reason);
        Assert.Equal(0, store.Active);
    }

    [Fact]
    public void AClientStateContinuesASequenceThisServerNeverSaw()
    {
        using var store = Store();
        var lease = store.Acquire(Control("elsewhere"), Digest, State(7));
        Assert.Equal(7, Value(lease));
        store.Release(lease, State(8), end: false);
        Assert.Equal(8, Value(store.Acquire(Control("elsewhere"), Digest, null)));
    }
}
