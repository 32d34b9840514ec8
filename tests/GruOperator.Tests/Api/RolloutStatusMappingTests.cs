using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using GruOperator.Tests.Domain.Rollout;
using k8s;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Api;

/// <summary>
/// All rollout state must survive the trip through the status subresource: every state a whole rollout passes
/// through, written to status, serialized as the API server stores it and read back, is the same state.
/// </summary>
public sealed class RolloutStatusMappingTests
{
    public static TheoryData<string> Scenarios => new() { "healthy", "failing", "paused", "unschedulable" };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_state_of_a_rollout_round_trips_through_status(string scenario)
    {
        var verdict = scenario == "paused" ? Verdict.Inconclusive : Verdict.Passed;
        var sim = new RolloutSimulation(Plan, 3, step => scenario == "failing" && step == 1 ? Verdict.Failed : verdict, canaryUnschedulable: scenario == "unschedulable");
        GruModelStatus? previous = null;
        var sawCanary = false;
        for (var tick = 0; tick < 200; tick++)
        {
            var command = scenario == "paused" && sim.Status.Canary?.IsPaused == true && tick % 50 == 0 ? RolloutCommand.Resume : RolloutCommand.None;
            var (_, decision) = sim.Step(command);
            var status = new GruModelStatus { Stable = new TrackStatus { Replicas = 3, ReadyReplicas = 3 } };
            RolloutStatusMapping.Apply(status, decision, previous);
            var stored = KubernetesJson.Deserialize<GruModelStatus>(KubernetesJson.Serialize(status));

            Assert.Equal(Json(decision.Status), Json(RolloutStatusMapping.ToState(stored)));
            Assert.Equal(3, stored.Stable!.ReadyReplicas); // the reconciler's counts are left alone
            Assert.Equal(decision.Phase, stored.Phase);
            if (decision is { RecordedRun: { } run, Status.Canary: not null }) Assert.Equal(run.Reason, stored.Canary!.Analysis!.LastRun!.Reason);
            sawCanary |= stored.Canary is not null;
            previous = stored;
        }
        Assert.True(sawCanary);
    }

    [Fact]
    public void A_new_object_has_an_empty_rollout_state() =>
        Assert.Equal(Json(RolloutState.Empty), Json(RolloutStatusMapping.ToState(null)));

    [Fact]
    public void A_hand_edited_pause_reason_is_dropped_not_trusted()
    {
        var status = new GruModelStatus
        {
            Canary = new CanaryStatus
            {
                Revision = "4", ModelSource = B.Source, ModelDigest = B.Digest, StartedAt = T0,
                PauseConditions = [new PauseConditionStatus { Reason = "Whatever", StartTime = T0 }, new PauseConditionStatus { Reason = "RolloutPaused", StartTime = T0 }],
            },
        };

        var canary = RolloutStatusMapping.ToState(status).Canary!;

        Assert.Equal([new PauseCondition(PauseReason.RolloutPaused, T0)], canary.PauseConditions);
        Assert.Equal(B, canary.Model);
    }

    [Fact]
    public void The_next_look_of_a_waiting_canary_and_a_no_traffic_pause_survive_a_restart()
    {
        var waiting = CanaryRollout.Decide(Running(Canary(readyAt: T0), now: T0 + TimeSpan.FromSeconds(30)) with
        {
            Analysis = Run(T0 + TimeSpan.FromSeconds(30), Verdict.Inconclusive) is var r ? r with { Run = r.Run with { WaitingForData = true } } : null,
        });
        var paused = waiting.Status with
        {
            Canary = waiting.Status.Canary! with { PauseConditions = [new PauseCondition(PauseReason.CanaryNoTraffic, T0 + TimeSpan.FromMinutes(10))] },
        };

        foreach (var state in new[] { waiting.Status, paused })
        {
            var status = new GruModelStatus();
            RolloutStatusMapping.Apply(status, waiting with { Status = state }, null);
            var stored = KubernetesJson.Deserialize<GruModelStatus>(KubernetesJson.Serialize(status));

            Assert.NotNull(state.Canary!.NextRunAt);
            Assert.Equal(Json(state), Json(RolloutStatusMapping.ToState(stored)));
        }
    }

    [Fact]
    public void The_full_last_run_is_kept_while_no_newer_run_is_recorded()
    {
        var run = Run(T0 + TimeSpan.FromSeconds(30), Verdict.Failed).Run;
        var decision = CanaryRollout.Decide(Running(Canary(readyAt: T0), now: T0 + TimeSpan.FromSeconds(30)) with { Analysis = new AnalysisResult("4", 0, run) });
        var first = new GruModelStatus();
        RolloutStatusMapping.Apply(first, decision, null);

        var next = CanaryRollout.Decide(Running(Canary(readyAt: T0), now: T0 + TimeSpan.FromSeconds(40)) with { Status = decision.Status });
        var second = new GruModelStatus();
        RolloutStatusMapping.Apply(second, next, first);

        var metric = Assert.Single(second.Canary!.Analysis!.LastRun!.Metrics!);
        Assert.Equal(("latencyP95", "0.31", "0.081", "<0.0001"), (metric.Name, metric.Value, metric.StableValue, metric.PValue));
    }
}
