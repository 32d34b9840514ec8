using GruNodeAgent.Runtime;
using k8s.Models;

namespace GruNodeAgent.Tests.Runtime;

/// <summary>The kubelet's getPhase and condition rules, as the agent reports them, without processes.</summary>
public sealed class PodStatusBuilderTests
{
    private static readonly DateTime T0 = new(2026, 12, 8, 0, 0, 0, DateTimeKind.Utc);

    public enum C { Waiting, Running, RunningReady, Exited0, Exited1, Restarted }

    private static ContainerRecord Container(string name, C state, bool init = false)
    {
        var record = new ContainerRecord(new V1Container { Name = name, Image = "img" }, init);
        switch (state)
        {
            case C.Running: record.State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = T0 } }; break;
            case C.RunningReady: record.State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = T0 } }; record.Ready = true; break;
            case C.Exited0: record.State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 0 } }; break;
            case C.Exited1: record.State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 1 } }; break;
            case C.Restarted: record.RestartCount = 1; break;
        }
        return record;
    }

    /// <summary>(scenario, init container, main containers, failed reason, finished, initialized) → phase, Ready, Initialized.</summary>
    public static TheoryData<string, C?, C[], string?, bool, bool, string, string, string> Rows => new()
    {
        { "nothing started", null, [C.Waiting], null, false, false, "Pending", "False", "True" },
        { "init container still running", C.Running, [C.Waiting], null, false, false, "Pending", "False", "False" },
        { "initialized, main not started", C.Exited0, [C.Waiting], null, false, true, "Pending", "False", "True" },
        { "running, not ready", null, [C.Running], null, false, true, "Running", "False", "True" },
        { "running and ready", null, [C.RunningReady], null, false, true, "Running", "True", "True" },
        { "one of two not ready", null, [C.RunningReady, C.Running], null, false, true, "Running", "False", "True" },
        { "waiting after a restart is Running", null, [C.Restarted], null, false, true, "Running", "False", "True" },
        { "all exited 0", null, [C.Exited0], null, true, true, "Succeeded", "False", "True" },
        { "one exited 1", null, [C.Exited0, C.Exited1], null, true, true, "Failed", "False", "True" },
        { "finished with a container never run", null, [C.Exited0, C.Waiting], null, true, true, "Failed", "False", "True" },
        { "init container failed", C.Exited1, [C.Waiting], null, true, false, "Failed", "False", "False" },
        { "refused by the agent", null, [C.Waiting], "UnexpectedAdmissionError", false, false, "Failed", "False", "True" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Phase_and_conditions_follow_the_kubelets_rules(string scenario, C? init, C[] main, string? failed, bool finished, bool initialized,
        string phase, string ready, string initializedCondition)
    {
        var builder = new PodStatusBuilder(null, T0);
        var state = new PodState(init is { } i ? [Container("init", i, init: true)] : [], main.Select((c, n) => Container($"c{n}", c)).ToList(),
            failed, failed is null ? null : "why", finished, initialized, "10.0.0.5", T0, "Burstable");

        var status = builder.Build(state, T0.AddSeconds(5));

        Assert.True(phase == status.Phase, $"{scenario}: phase {status.Phase}");
        Assert.True(ready == status.Conditions.Single(c => c.Type == "Ready").Status, $"{scenario}: Ready");
        Assert.Equal(status.Conditions.Single(c => c.Type == "Ready").Status, status.Conditions.Single(c => c.Type == "ContainersReady").Status);
        Assert.True(initializedCondition == status.Conditions.Single(c => c.Type == "Initialized").Status, $"{scenario}: Initialized");
        Assert.Equal(failed, status.Reason);
        Assert.Equal("10.0.0.5", status.PodIP);
        Assert.Equal(main.Length, status.ContainerStatuses.Count);
    }

    [Fact]
    public void A_condition_keeps_its_transition_time_until_its_status_changes_and_starts_from_the_pods_own()
    {
        var existing = new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = T0.AddMinutes(-10) };
        var builder = new PodStatusBuilder([existing], T0);
        var running = new PodState([], [Container("c", C.Running)], null, null, false, true, "10.0.0.5", T0, null);
        var ready = running with { Main = [Container("c", C.RunningReady)] };

        var first = builder.Build(running, T0.AddSeconds(1));
        var second = builder.Build(running, T0.AddSeconds(2));
        var third = builder.Build(ready, T0.AddSeconds(3));

        Assert.Equal(T0.AddMinutes(-10), first.Conditions.Single(c => c.Type == "PodScheduled").LastTransitionTime);
        Assert.Equal(T0.AddSeconds(1), second.Conditions.Single(c => c.Type == "Ready").LastTransitionTime);
        Assert.Equal("containers with unready status: [c]", second.Conditions.Single(c => c.Type == "Ready").Message);
        Assert.Equal(T0.AddSeconds(3), third.Conditions.Single(c => c.Type == "Ready").LastTransitionTime);
        Assert.Null(third.Conditions.Single(c => c.Type == "Ready").Message);
    }
}
