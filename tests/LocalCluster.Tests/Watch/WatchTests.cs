using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Watch;

/// <summary>watch: resourceVersion, bookmarks, timeoutSeconds, selectors, 410 Expired.</summary>
public sealed class WatchTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public WatchTests(ClusterFixture f) => _f = f;

    private Task<V1ConfigMap> CreateAsync(string ns, string name, Dictionary<string, string>? labels = null) =>
        _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, ns);

    private static async Task<List<(WatchEventType Type, V1ConfigMap Object)>> CollectAsync(
        IAsyncEnumerable<(WatchEventType, V1ConfigMap)> events, int count, CancellationToken ct)
    {
        var got = new List<(WatchEventType, V1ConfigMap)>();
        await foreach (var e in events.WithCancellation(ct))
        {
            got.Add(e);
            if (got.Count == count) break;
        }
        return got;
    }

    [Fact]
    public async Task Watch_from_a_resourceVersion_replays_every_later_change_in_order()
    {
        var ns = await _f.NamespaceAsync("w");
        var a = await CreateAsync(ns, "a");
        var after = a.Metadata.ResourceVersion;
        await CreateAsync(ns, "b");
        a.Data = new Dictionary<string, string> { ["x"] = "1" };
        await _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(a, "a", ns);
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("b", ns);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = _f.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: after, cancellationToken: cts.Token);
        var events = await CollectAsync(watch, 3, cts.Token);
        Assert.Equal([(WatchEventType.Added, "b"), (WatchEventType.Modified, "a"), (WatchEventType.Deleted, "b")],
            events.Select(e => (e.Type, e.Object.Metadata.Name)));
        var versions = events.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.Equal(versions.Order(), versions);
    }

    [Fact]
    public async Task Watch_without_a_resourceVersion_starts_with_the_current_objects_as_ADDED()
    {
        var ns = await _f.NamespaceAsync("w");
        var existing = await CreateAsync(ns, "existing");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var watch = _f.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);

        // The first event is the snapshot of what exists: it arrives before anything new is created, so it cannot be
        // a live event, and it carries the object as created.
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal((WatchEventType.Added, "existing", existing.Metadata.ResourceVersion),
            (watch.Current.Item1, watch.Current.Item2.Metadata.Name, watch.Current.Item2.Metadata.ResourceVersion));

        // Created only after the snapshot arrived, so it can only come as a live event on the same stream.
        var fresh = await CreateAsync(ns, "a-fresh");
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal((WatchEventType.Added, "a-fresh", fresh.Metadata.ResourceVersion),
            (watch.Current.Item1, watch.Current.Item2.Metadata.Name, watch.Current.Item2.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task A_selector_watch_reports_objects_leaving_the_selection_as_DELETED()
    {
        var ns = await _f.NamespaceAsync("w");
        var cm = await CreateAsync(ns, "moving", new() { ["app"] = "web" });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = _f.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, labelSelector: "app=web",
                resourceVersion: cm.Metadata.ResourceVersion, cancellationToken: cts.Token);
        cm.Metadata.Labels["app"] = "db";
        await _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "moving", ns);
        var events = await CollectAsync(watch, 1, cts.Token);
        Assert.Equal(WatchEventType.Deleted, events[0].Type);
        Assert.Equal("db", events[0].Object.Metadata.Labels["app"]);
    }

    [Fact]
    public async Task Bookmarks_arrive_on_a_quiet_watch_when_allowed()
    {
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { BookmarkInterval = TimeSpan.FromMilliseconds(200) });
        using var client = new Kubernetes(cluster.ClientConfiguration);
        var list = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true,
                resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token);
        var events = await CollectAsync(watch, 1, cts.Token);
        Assert.Equal(WatchEventType.Bookmark, events[0].Type);
        Assert.True(long.Parse(events[0].Object.Metadata.ResourceVersion) >= long.Parse(list.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task TimeoutSeconds_ends_the_watch_stream()
    {
        var ns = await _f.NamespaceAsync("w");
        var list = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        var started = DateTime.UtcNow;
        // Raw HTTP: KubernetesClient reports an empty watch body as an error rather than an end of stream.
        var body = await _f.Http.GetStringAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1&resourceVersion={list.Metadata.ResourceVersion}");
        var took = DateTime.UtcNow - started;
        Assert.Equal("", body);
        Assert.True(took >= TimeSpan.FromSeconds(0.9) && took < TimeSpan.FromSeconds(60), $"took {took}");
    }

    [Fact]
    public async Task A_resourceVersion_older_than_the_history_gets_an_ERROR_event_with_410_Expired()
    {
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { WatchHistorySize = 3 });
        using var client = new Kubernetes(cluster.ClientConfiguration);
        var first = await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "c0" } }, "default");
        for (var i = 1; i <= 5; i++)
        {
            await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"c{i}" } }, "default");
        }
        using var http = ClusterFixture.TrustingHttpClient(cluster);
        var body = await http.GetStringAsync($"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={first.Metadata.ResourceVersion}");
        var line = JsonNode.Parse(body.Trim())!;
        Assert.Equal("ERROR", line["type"]!.GetValue<string>());
        Assert.Equal(410, line["object"]!["code"]!.GetValue<int>());
        Assert.Equal("Expired", line["object"]!["reason"]!.GetValue<string>());

        // The typed client surfaces it as an error carrying the same Status.
        Exception? error = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: first.Metadata.ResourceVersion, onError: e => error = e, cancellationToken: cts.Token);
        await foreach (var _ in watch.WithCancellation(cts.Token))
        {
        }
        var kex = Assert.IsType<KubernetesException>(error);
        Assert.Equal(410, kex.Status.Code);
    }

    [Fact]
    public async Task ExpireHistory_makes_a_watch_from_the_latest_listed_version_410_so_informers_relist()
    {
        var ns = await _f.NamespaceAsync("w");
        var list = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        _f.Cluster.Faults.ExpireHistory();
        var body = await _f.Http.GetStringAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={list.Metadata.ResourceVersion}");
        var line = JsonNode.Parse(body.Trim())!;
        Assert.Equal("ERROR", line["type"]!.GetValue<string>());
        Assert.Equal("Expired", line["object"]!["reason"]!.GetValue<string>());
        // A fresh list gives a version that watches again.
        var relisted = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.True(long.Parse(relisted.Metadata.ResourceVersion) > long.Parse(list.Metadata.ResourceVersion));
        var again = await _f.Http.GetStringAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1&resourceVersion={relisted.Metadata.ResourceVersion}");
        Assert.Equal("", again);
    }

    [Fact]
    public async Task SendInitialEvents_streams_the_current_objects_then_an_initial_events_end_bookmark()
    {
        var ns = await _f.NamespaceAsync("w");
        await CreateAsync(ns, "one");
        await CreateAsync(ns, "two");
        var body = await _f.Http.GetStringAsync($"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1");
        var events = body.Trim().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["ADDED", "ADDED", "BOOKMARK"], events.Select(e => e["type"]!.GetValue<string>()));
        Assert.Equal(["one", "two"], events.Take(2).Select(e => e["object"]!["metadata"]!["name"]!.GetValue<string>()));
        Assert.Equal("true", events[2]["object"]!["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.GetValue<string>());
    }

    [Fact]
    public async Task DropAllWatches_ends_open_streams_and_a_rewatch_from_the_last_version_misses_nothing()
    {
        var ns = await _f.NamespaceAsync("w");
        var list = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = _f.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token);
        var consumer = CollectAsync(watch, 10, cts.Token);
        await CreateAsync(ns, "before-drop");
        await Eventually.GetAsync(() => Task.FromResult(_f.Cluster.Faults.DropAllWatches()), n => n > 0, "an open watch to drop");
        var seen = await consumer;
        Assert.False(cts.IsCancellationRequested);
        var last = seen.Count == 0 ? list.Metadata.ResourceVersion : seen[^1].Object.Metadata.ResourceVersion;
        await CreateAsync(ns, "after-drop");
        var again = _f.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: last, cancellationToken: cts.Token);
        var names = seen.Select(e => e.Object.Metadata.Name).ToList();
        names.AddRange((await CollectAsync(again, 2 - seen.Count, cts.Token)).Select(e => e.Object.Metadata.Name));
        Assert.Equal(["before-drop", "after-drop"], names);
    }
}
