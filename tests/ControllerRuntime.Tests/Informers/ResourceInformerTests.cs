using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ControllerRuntime.Informers;
using ControllerRuntime.Metrics;
using ControllerRuntime.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControllerRuntime.Tests.Informers;

public sealed class ResourceInformerTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task RelistAfterExpiryDeletesWhatVanishedAndResumesFromTheNewVersion()
    {
        var source = new ScriptedSource();
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([Item("a", "1"), Item("b", "2")], "2", null));
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([Item("a", "5")], "7", null));
        var (informer, cache, changes) = NewInformer(source);
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);

        await informer.WaitForSyncAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, cache.Count);
        await Poll.UntilAsync(() => source.WatchedFrom.Count == 1, TimeSpan.FromSeconds(30));
        Assert.Equal("2", source.WatchedFrom[0]);

        // 410: the informer must relist, notice b is gone, and watch again from the new list's version.
        await source.Events.Writer.WriteAsync(new ScriptedEvent(null, Expired: true));
        await Poll.UntilAsync(() => source.WatchedFrom.Count == 2, TimeSpan.FromSeconds(30));
        Assert.Equal("7", source.WatchedFrom[1]);
        Assert.Null(cache.Get("ns", "b"));
        Assert.Equal("5", cache.Get("ns", "a")!.Metadata.ResourceVersion);
        Assert.Contains(changes, c => c.New is null && c.Old!.Metadata.Name == "b");

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ClosedWatchResumesFromTheLastEventOrBookmarkWithoutRelisting()
    {
        var source = new ScriptedSource();
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([], "10", null));
        var (informer, cache, changes) = NewInformer(source);
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);

        await Poll.UntilAsync(() => source.WatchedFrom.Count == 1, TimeSpan.FromSeconds(30));
        await source.Events.Writer.WriteAsync(new ScriptedEvent((WatchEventType.Added, Item("a", "11"))));
        await source.Events.Writer.WriteAsync(new ScriptedEvent((WatchEventType.Bookmark, Item("", "15"))));
        await source.Events.Writer.WriteAsync(new ScriptedEvent(null, Close: true));

        await Poll.UntilAsync(() => source.WatchedFrom.Count == 2, TimeSpan.FromSeconds(30));
        Assert.Equal("15", source.WatchedFrom[1]);
        Assert.Equal(1, source.ListCalls);
        Assert.NotNull(cache.Get("ns", "a"));
        Assert.Single(changes);

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task PagedListIsFollowedToTheEnd()
    {
        var source = new ScriptedSource();
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([Item("a", "1")], "3", "page-2"));
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([Item("b", "2")], "3", null));
        var (informer, cache, _) = NewInformer(source);
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);

        await informer.WaitForSyncAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, cache.Count);
        Assert.Equal(["", "page-2"], source.ContinueTokens);

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task TheTransformShapesWhatIsCachedFromListsAndWatches()
    {
        var source = new ScriptedSource();
        var listed = Item("a", "1");
        listed.Data = new Dictionary<string, string> { ["big"] = "x" };
        source.Lists.Enqueue(new ResourcePage<V1ConfigMap>([listed], "1", null));
        var (informer, cache, _) = NewInformer(source);
        informer.TransformWith(c => c.Data = null);
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);

        await informer.WaitForSyncAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(cache.Get("ns", "a")!.Data);
        var watched = Item("b", "2");
        watched.Data = new Dictionary<string, string> { ["big"] = "y" };
        await source.Events.Writer.WriteAsync(new ScriptedEvent((WatchEventType.Added, watched)));
        await Poll.UntilAsync(() => cache.Get("ns", "b") is not null, TimeSpan.FromSeconds(30));
        Assert.Null(cache.Get("ns", "b")!.Data);

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private (ResourceInformer<V1ConfigMap>, ResourceCache<V1ConfigMap>, List<ResourceChange<V1ConfigMap>>) NewInformer(ScriptedSource source)
    {
        var cache = new ResourceCache<V1ConfigMap>();
        var informer = new ResourceInformer<V1ConfigMap>(source, cache, new ControllerMetrics(_meters), TimeProvider.System, NullLogger.Instance, "configmaps");
        var changes = new List<ResourceChange<V1ConfigMap>>();
        informer.OnChange(c =>
        {
            lock (changes) changes.Add(c);
        });
        return (informer, cache, changes);
    }

    private static V1ConfigMap Item(string name, string resourceVersion) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ns", ResourceVersion = resourceVersion },
    };

    private sealed record ScriptedEvent((WatchEventType, V1ConfigMap)? Event, bool Close = false, bool Expired = false);

    private sealed class ScriptedSource : IListWatcher<V1ConfigMap>
    {
        public Queue<ResourcePage<V1ConfigMap>> Lists { get; } = new();
        public Channel<ScriptedEvent> Events { get; } = Channel.CreateUnbounded<ScriptedEvent>();
        public List<string> WatchedFrom { get; } = [];
        public List<string> ContinueTokens { get; } = [];
        public int ListCalls { get; private set; }

        public string? Namespace => null;

        public Task<ResourcePage<V1ConfigMap>> ListAsync(string? continueToken, CancellationToken cancellationToken)
        {
            ListCalls++;
            ContinueTokens.Add(continueToken ?? "");
            return Task.FromResult(Lists.Dequeue());
        }

        public async IAsyncEnumerable<(WatchEventType Type, V1ConfigMap Object)> WatchAsync(string resourceVersion, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            lock (WatchedFrom) WatchedFrom.Add(resourceVersion);
            await foreach (var scripted in Events.Reader.ReadAllAsync(cancellationToken))
            {
                if (scripted.Expired) throw new ResourceExpiredException("too old");
                if (scripted.Close) yield break;
                yield return scripted.Event!.Value;
            }
        }
    }
}
