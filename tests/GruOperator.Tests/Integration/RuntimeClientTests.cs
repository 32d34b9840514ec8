using ControllerRuntime.Events;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Tests.Support;
using k8s.Autorest;
using Microsoft.Extensions.Logging.Abstractions;

namespace GruOperator.Tests.Integration;

/// <summary>The runtime's API clients against LocalCluster, without an operator running.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class RuntimeClientTests
{
    private static readonly CustomResourceType Type = new(GruModel.Group, GruModel.Version, GruModel.Plural, GruModel.KindName);

    // LocalCluster-only: the extra 409 is injected with LocalCluster.Faults.
    [Fact]
    public async Task StatusWriteRetriesA409OnAFreshCopy()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var created = await harness.CreateAsync(Models.Cpu("st", "default"));
        var client = new CustomResourceClient<GruModel>(harness.Client, Type, TimeProvider.System, NullLogger<CustomResourceClient<GruModel>>.Instance);

        // Someone else changes the object after we read it: our resourceVersion is stale, and the server also injects a 409.
        await harness.PatchSpecAsync("default", "st", new { serving = new { replicas = 2 } });
        harness.Cluster.Faults.FailNext(1, 409);
        var written = await client.ReplaceStatusAsync(created, m => m.Status = new GruModelStatus { Phase = ModelPhase.Pending, Message = "hello" }, CancellationToken.None);

        Assert.Equal("hello", written.Status!.Message);
        var stored = await harness.GetAsync("default", "st");
        Assert.Equal(ModelPhase.Pending, stored!.Status!.Phase);
        Assert.Equal(2, stored.Spec.Serving.Replicas);
    }

    [Fact]
    public async Task FinalizerPatchFromAStaleCopyConflictsInsteadOfOverwriting()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var created = await harness.CreateAsync(Models.Cpu("fin", "default"));
        var client = new CustomResourceClient<GruModel>(harness.Client, Type, TimeProvider.System, NullLogger<CustomResourceClient<GruModel>>.Instance);
        await harness.PatchSpecAsync("default", "fin", new { serving = new { replicas = 3 } });

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => client.PatchFinalizersAsync(created, ["example.com/x"], CancellationToken.None));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, error.Response.StatusCode);

        var fresh = await harness.GetAsync("default", "fin");
        var patched = await client.PatchFinalizersAsync(fresh!, ["example.com/x"], CancellationToken.None);
        Assert.Equal(["example.com/x"], patched.Metadata.Finalizers);
    }

    [Fact]
    public async Task RepeatedEventsBecomeOneEventWithACount()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var model = await harness.CreateAsync(Models.Cpu("ev", "default"));
        var recorder = new EventRecorder(harness.Client, TimeProvider.System, NullLogger<EventRecorder>.Instance, "test", "test-1") { MinRepeatInterval = TimeSpan.Zero };

        for (var i = 0; i < 3; i++) await recorder.RecordAsync(model, EventType.Warning, "Broken", "same message", CancellationToken.None);
        await recorder.RecordAsync(model, EventType.Warning, "Broken", "another message", CancellationToken.None);

        var events = await harness.EventsAsync("default", "ev");
        var same = Assert.Single(events, e => e.Message == "same message");
        Assert.Equal(3, same.Count);
        Assert.Equal(("Warning", "Broken", "test"), (same.Type, same.Reason, same.Source.Component));
        Assert.Single(events, e => e.Message == "another message");
    }
}
