using ControllerRuntime.Events;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GruOperator.Tests.Integration;

/// <summary>The runtime's API clients against LocalCluster, without an operator running.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class RuntimeClientTests
{
    private static readonly CustomResourceType Type = new(GruModel.Group, GruModel.Version, GruModel.Plural, GruModel.KindName);
    private const string Manager = "runtime-test";

    // LocalCluster-only: the extra 409 is injected with LocalCluster.Faults.
    [Fact]
    public async Task FinalizerAndStatusWritesGoOutUnderTheConfiguredFieldManager()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var created = await harness.CreateAsync(Models.Cpu("fm", "default"));
        var client = new CustomResourceClient<GruModel>(harness.Client, Type, Manager);

        var patched = await client.PatchFinalizersAsync(created, ["example.com/x"], CancellationToken.None);
        patched.Status = new GruModelStatus { Phase = ModelPhase.Pending, Message = "hello" };
        await client.ReplaceStatusAsync(patched, CancellationToken.None);

        var stored = await harness.GetAsync("default", "fm");
        var finalizers = Assert.Single(stored!.Metadata.ManagedFields, f => f.FieldsV1.ToString()!.Contains("f:finalizers", StringComparison.Ordinal));
        Assert.Equal((Manager, "Update", null), (finalizers.Manager, finalizers.Operation, finalizers.Subresource));
        var status = Assert.Single(stored.Metadata.ManagedFields, f => f.FieldsV1.ToString()!.Contains("f:status", StringComparison.Ordinal));
        Assert.Equal((Manager, "Update", "status"), (status.Manager, status.Operation, status.Subresource));
    }

    [Fact]
    public async Task StatusComputedFromAStaleCopyIsRefusedNotWrittenOntoTheFreshOne()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var created = await harness.CreateAsync(Models.Cpu("st", "default"));
        var client = new CustomResourceClient<GruModel>(harness.Client, Type, Manager);

        // Someone else changes the object after we read it: a status computed from our copy describes generation 1.
        await harness.PatchSpecAsync("default", "st", new { serving = new { replicas = 2 } });
        created.Status = new GruModelStatus { ObservedGeneration = 1, Phase = ModelPhase.Pending, Message = "from generation 1" };

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => client.ReplaceStatusAsync(created, CancellationToken.None));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, error.Response.StatusCode);
        var stored = await harness.GetAsync("default", "st");
        Assert.Null(stored!.Status?.Message);
        Assert.Equal(2, stored.Spec.Serving.Replicas);
    }

    [Fact]
    public async Task FinalizerPatchFromAStaleCopyConflictsInsteadOfOverwriting()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var created = await harness.CreateAsync(Models.Cpu("fin", "default"));
        var client = new CustomResourceClient<GruModel>(harness.Client, Type, Manager);
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
        var recorder = new EventRecorder(harness.Client, TimeProvider.System, NullLogger<EventRecorder>.Instance, "test", "test-1", Manager) { MinRepeatInterval = TimeSpan.Zero };

        for (var i = 0; i < 3; i++) await recorder.RecordAsync(model, EventType.Warning, "Broken", "same message", CancellationToken.None);
        await recorder.RecordAsync(model, EventType.Warning, "Broken", "another message", CancellationToken.None);

        var events = await harness.EventsAsync("default", "ev");
        var same = Assert.Single(events, e => e.Message == "same message");
        Assert.Equal(3, same.Count);
        Assert.Equal(("Warning", "Broken", "test"), (same.Type, same.Reason, same.Source.Component));
        Assert.Single(events, e => e.Message == "another message");
    }

    [Fact]
    public async Task An_event_in_a_namespace_being_deleted_is_dropped_quietly_and_other_refusals_still_warn()
    {
        await using var harness = await OperatorHarness.StartAsync();
        await harness.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "leaving" } });
        var model = await harness.CreateAsync(Models.Cpu("ev", "leaving"));
        // A finalizer on one object keeps the namespace Terminating while the event is recorded.
        await harness.Client.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "held", Finalizers = ["example.com/hold"] } }, "leaving");
        await harness.Client.CoreV1.DeleteNamespaceAsync("leaving");
        var logger = new WarningCounter();
        var recorder = new EventRecorder(harness.Client, TimeProvider.System, logger, "test", "test-1", Manager);

        await recorder.RecordAsync(model, EventType.Normal, "CleanedUp", "last words", CancellationToken.None);
        Assert.Equal(0, logger.Warnings);
        Assert.Empty(await harness.EventsAsync("leaving", "ev"));

        // Any other refusal is still a failure worth a warning: here, a namespace that does not exist.
        var elsewhere = new GruModel { Metadata = new V1ObjectMeta { Name = "ghost", NamespaceProperty = "nowhere", Uid = "u-ghost" } };
        await recorder.RecordAsync(elsewhere, EventType.Normal, "Seen", "hello", CancellationToken.None);
        Assert.Equal(1, logger.Warnings);
    }

    private sealed class WarningCounter : ILogger<EventRecorder>
    {
        private int _warnings;

        public int Warnings => Volatile.Read(ref _warnings);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning) Interlocked.Increment(ref _warnings);
        }
    }
}
