using System.Net;
using ControllerRuntime.Finalizers;
using k8s.Autorest;
using k8s.Models;

namespace ControllerRuntime.Tests.Finalizers;

public sealed class FinalizerRegistryTests
{
    private const string Ours = "example.dev/cleanup";

    private sealed class CountingFinalizer : IFinalizer<V1ConfigMap>
    {
        public int Runs { get; private set; }

        public Task FinalizeAsync(V1ConfigMap item, CancellationToken cancellationToken)
        {
            Runs++;
            return Task.CompletedTask;
        }
    }

    private static V1ConfigMap Item(bool deleting, params string[] finalizers) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "m",
            NamespaceProperty = "ns",
            Finalizers = [.. finalizers],
            DeletionTimestamp = deleting ? DateTime.UtcNow : null,
        },
    };

    private static HttpOperationException Status(HttpStatusCode code) => new($"status {(int)code}")
    {
        Response = new HttpResponseMessageWrapper(new HttpResponseMessage(code), ""),
    };

    public static TheoryData<string, bool, string[], HttpStatusCode?, bool, string[]?, int> Cases() => new()
    {
        // scenario, deleting, finalizers before, patch answer (null: succeeds), expected Deleting, finalizers patched (null: no patch), finalizer runs
        { "live object without ours: ours is added", false, [], null, false, [Ours], 0 },
        { "live object with ours: nothing to patch", false, [Ours], null, false, null, 0 },
        { "live object deleted meanwhile: stop, no error", false, [], HttpStatusCode.NotFound, true, [Ours], 0 },
        { "deleting: ours runs and is removed, others kept", true, [Ours, "other.dev/x"], null, true, ["other.dev/x"], 1 },
        { "deleting and gone meanwhile: stop, no error", true, [Ours], HttpStatusCode.NotFound, true, [], 1 },
        { "deleting without ours: nothing runs", true, ["other.dev/x"], null, true, null, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BringsFinalizersInLine(string scenario, bool deleting, string[] before, HttpStatusCode? answer, bool expectDeleting, string[]? expectPatched, int expectRuns)
    {
        _ = scenario;
        var finalizer = new CountingFinalizer();
        var registry = new FinalizerRegistry<V1ConfigMap>();
        registry.Register(Ours, finalizer);
        IReadOnlyList<string>? patched = null;

        var (isDeleting, _) = await registry.ApplyAsync(Item(deleting, before), (item, finalizers, _) =>
        {
            patched = finalizers;
            if (answer is { } code) throw Status(code);
            item.Metadata.Finalizers = [.. finalizers];
            return Task.FromResult(item);
        }, CancellationToken.None);

        Assert.Equal(expectDeleting, isDeleting);
        Assert.Equal(expectPatched, patched?.ToArray());
        Assert.Equal(expectRuns, finalizer.Runs);
    }

    [Fact]
    public async Task OtherApiErrorsStillFailTheReconcile()
    {
        var registry = new FinalizerRegistry<V1ConfigMap>();
        registry.Register(Ours, new CountingFinalizer());

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => registry.ApplyAsync(Item(false), (_, _, _) =>
            throw Status(HttpStatusCode.Conflict), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Conflict, error.Response.StatusCode);
    }
}
