using GruServer.Mirroring;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Time.Testing;

namespace GruServer.Tests.Mirroring;

/// <summary>Sampling by sequence id, lanes, the rate budget, and the divergence buckets' grid.</summary>
public sealed class MirrorSamplingTests
{
    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void SequenceSamplingTakesAboutTheFractionAndAlwaysTheSameIds(double sample)
    {
        var ids = Enumerable.Range(0, 20_000).Select(i => $"session-{i}").ToList();

        var taken = ids.Count(id => MirrorSampler.IncludesSequence(id, sample));

        Assert.InRange(taken / (double)ids.Count, sample - 0.02, sample + 0.02);
        Assert.All(ids.Take(200), id => Assert.Equal(MirrorSampler.IncludesSequence(id, sample), MirrorSampler.IncludesSequence(id, sample)));
        // A larger fraction keeps every sequence a smaller one took: raising the sample never cuts a sequence short.
        Assert.All(ids.Where(id => MirrorSampler.IncludesSequence(id, sample)), id => Assert.True(MirrorSampler.IncludesSequence(id, Math.Min(1, sample + 0.05))));
    }

    [Theory]
    [InlineData(0.0, 0.1, true)]
    [InlineData(0.0999, 0.1, true)]
    [InlineData(0.1, 0.1, false)]
    [InlineData(0.9999, 1.0, true)]
    public void RequestSamplingComparesTheDraw(double draw, double sample, bool included) =>
        Assert.Equal(included, MirrorSampler.IncludesRequest(draw, sample));

    [Fact]
    public void HashIsFixedAcrossProcesses() =>
        // Stable replicas must agree on which sequences are mirrored: pinned, unlike string.GetHashCode.
        Assert.Equal(11367860935747116386UL, MirrorSampler.Hash("session-1"));

    [Fact]
    public void LanesSpreadSequencesAndKeepEachInOne()
    {
        var lanes = Enumerable.Range(0, 4000).Select(i => MirrorSampler.LaneOf($"s{i}", 4)).ToList();

        Assert.All(Enumerable.Range(0, 4), lane => Assert.InRange(lanes.Count(l => l == lane), 800, 1200));
        Assert.Equal(MirrorSampler.LaneOf("s7", 4), MirrorSampler.LaneOf("s7", 4));
    }

    [Fact]
    public void RateBudgetAllowsOneSecondsBurstThenRefills()
    {
        var time = new FakeTimeProvider();
        var budget = new MirrorRateBudget(5, time);

        Assert.Equal(5, Enumerable.Range(0, 10).Count(_ => budget.TryTake()));
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal(2, Enumerable.Range(0, 10).Count(_ => budget.TryTake()));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(5, Enumerable.Range(0, 10).Count(_ => budget.TryTake()));
    }

    [Fact]
    public void SlowRatesStillAllowOneCopy()
    {
        var time = new FakeTimeProvider();
        var budget = new MirrorRateBudget(0.5, time);

        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake());
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(budget.TryTake());
    }

    [Fact]
    public void DivergenceBucketsAreTheOneTwoFiveGridFromTenToTheMinusSevenToTen()
    {
        Assert.Equal(25, DivergenceBuckets.Bounds.Count);
        Assert.Equal(1e-7, DivergenceBuckets.Bounds[0]);
        Assert.Equal(10, DivergenceBuckets.Bounds[^1]);
        Assert.Equal(2e-7, DivergenceBuckets.Bounds[1]);
        Assert.Equal(5e-3, DivergenceBuckets.Bounds[14]);
        Assert.Equal(5e-3, DivergenceBuckets.OnGrid(0.005));
        Assert.Null(DivergenceBuckets.OnGrid(0.003));
        Assert.Null(DivergenceBuckets.OnGrid(20));
    }
}
