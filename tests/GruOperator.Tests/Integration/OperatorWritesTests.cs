using GruOperator.Domain.Conditions;
using GruOperator.Reconciliation;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Integration;

/// <summary>How the operator writes to the GruModel: under its own field manager, and never a stale status.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class OperatorWritesTests
{
    private const string Ns = "default";

    [Fact]
    public async Task FinalizerStatusAndEventsAreWrittenUnderTheOperatorsFieldManager()
    {
        await using var harness = await OperatorHarness.StartAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("owned", Ns));
        var model = await harness.WaitForStatusAsync(Ns, "owned",
            m => m.Status!.Phase == ModelPhase.Healthy && m.Metadata.Finalizers?.Contains(WorkloadFinalizer.Name) == true, "phase Healthy with the finalizer");

        var finalizers = Assert.Single(model.Metadata.ManagedFields, f => f.FieldsV1.ToString()!.Contains("f:finalizers", StringComparison.Ordinal));
        Assert.Equal(("gru-operator", "Update"), (finalizers.Manager, finalizers.Operation));
        var status = Assert.Single(model.Metadata.ManagedFields, f => f.Subresource == "status");
        Assert.Equal(("gru-operator", "Update"), (status.Manager, status.Operation));
        Assert.Contains("f:conditions", status.FieldsV1.ToString(), StringComparison.Ordinal);

        var events = await harness.EventsAsync(Ns, "owned");
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal("gru-operator", Assert.Single(e.Metadata.ManagedFields).Manager));
    }

    [Fact]
    public async Task ConflictsAreRecomputedFromFreshStateUntilTheStatusDescribesTheNewGeneration()
    {
        await using var harness = await OperatorHarness.StartAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("busy", Ns));
        await harness.WaitForStatusAsync(Ns, "busy", m => m.Status!.Phase == ModelPhase.Healthy, "first rollout");

        await harness.PatchSpecAsync(Ns, "busy", new { serving = new { replicas = 2 } });
        // The operator's next writes are refused as if someone else had changed the object each time.
        harness.Cluster.Faults.FailNext(4, 409);

        var converged = await harness.WaitForStatusAsync(Ns, "busy",
            m => m.Status!.ObservedGeneration == 2 && m.Status.Phase == ModelPhase.Healthy, "generation 2 observed and Healthy");
        Assert.Equal(0, harness.Cluster.Faults.PendingFailures);
        Assert.Equal(2, converged.Status!.Stable!.Replicas);
        Assert.Equal("2/2", converged.Status.Ready);
        Assert.All(converged.Status.Conditions!, c => Assert.Equal(2, c.ObservedGeneration));
    }
}
