using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using k8s;
using k8s.Models;
using Kube.Local;

// Create-and-watch benchmark: one watch open on a namespace, N ConfigMaps created through KubernetesClient
// over HTTPS with a few concurrent writers, timed until the watch has delivered every ADDED event.
// Memory: managed heap after a full GC, before and after, divided by N. Client and server share the process, so
// this includes Kestrel's and HttpClient's buffer pools as well as the store, its history and indexes; the stored
// JSON per object is reported beside it.
var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
var writers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
var output = args.Length > 2 ? args[2] : Path.Combine("bench", "results");
Directory.CreateDirectory(output);

await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { WatchHistorySize = count + 100 });
using var client = new Kubernetes(cluster.ClientConfiguration);
const string ns = "bench";
await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
var start = await client.CoreV1.ListNamespacedConfigMapAsync(ns);

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
GC.WaitForPendingFinalizers();
var heapBefore = GC.GetTotalMemory(forceFullCollection: true);

using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
var seen = 0;
var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
using var watchCts = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
var watcher = Task.Run(async () =>
{
    await foreach (var (type, _) in client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: start.Metadata.ResourceVersion, cancellationToken: watchCts.Token))
    {
        if (type == WatchEventType.Added && Interlocked.Increment(ref seen) == count)
        {
            allSeen.TrySetResult();
            return;
        }
    }
}, cts.Token);

var total = Stopwatch.StartNew();
var next = -1;
var createLatencies = new double[count];
await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
{
    int i;
    while ((i = Interlocked.Increment(ref next)) < count)
    {
        var sw = Stopwatch.StartNew();
        await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = $"cm-{i:D6}", Labels = new Dictionary<string, string> { ["app"] = "bench", ["shard"] = (i % 16).ToString(CultureInfo.InvariantCulture) } },
            Data = new Dictionary<string, string> { ["index"] = i.ToString(CultureInfo.InvariantCulture), ["payload"] = new string('x', 200) },
        }, ns, cancellationToken: cts.Token);
        createLatencies[i] = sw.Elapsed.TotalMilliseconds;
    }
}, cts.Token)));
var createdAt = total.Elapsed;
await allSeen.Task.WaitAsync(cts.Token);
var watchedAt = total.Elapsed;
await watcher;
// End the watch for real (close the connection) so the server drops the subscription before memory is measured.
await watchCts.CancelAsync();
while (cluster.Registry.Store.WatchCount > 0) await Task.Delay(50, cts.Token);

var list = Stopwatch.StartNew();
var listed = await client.CoreV1.ListNamespacedConfigMapAsync(ns, cancellationToken: cts.Token);
var listTime = list.Elapsed;
var selected = await client.CoreV1.ListNamespacedConfigMapAsync(ns, labelSelector: "shard=3", cancellationToken: cts.Token);
if (listed.Items.Count != count || selected.Items.Count != count / 16 + (count % 16 > 3 ? 1 : 0))
{
    Console.Error.WriteLine($"unexpected list sizes: {listed.Items.Count}, {selected.Items.Count}");
    return 1;
}
listed = null;

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
GC.WaitForPendingFinalizers();
var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
Array.Sort(createLatencies);
// What the store itself holds: the objects' JSON, the payload the heap growth is proportional to.
var storedJsonBytes = cluster.Registry.Store.Snapshot("/configmaps").Items.Values.Sum(o => (long)o.Json.Length);
// The store's own footprint: the same objects written straight through the registry (no HTTP, no client), heap
// measured around it, so buffer pools do not blur the per-object figure.
var storeHeapBytesPerObject = await StoreFootprintAsync(count);

var result = new
{
    benchmark = "LocalCluster create and watch",
    objects = count,
    concurrentWriters = writers,
    createSeconds = Math.Round(createdAt.TotalSeconds, 3),
    createAndWatchSeconds = Math.Round(watchedAt.TotalSeconds, 3),
    createsPerSecond = Math.Round(count / createdAt.TotalSeconds),
    createLatencyP50Ms = Math.Round(createLatencies[count / 2], 2),
    createLatencyP99Ms = Math.Round(createLatencies[(int)(count * 0.99)], 2),
    listAllSeconds = Math.Round(listTime.TotalSeconds, 3),
    heapGrowthMiB = Math.Round((heapAfter - heapBefore) / 1024.0 / 1024.0, 1),
    heapBytesPerObject = (heapAfter - heapBefore) / count,
    storedJsonBytesPerObject = storedJsonBytes / count,
    storeOnlyHeapBytesPerObject = storeHeapBytesPerObject,
    workingSetMiB = Math.Round(Environment.WorkingSet / 1024.0 / 1024.0, 1),
    processorCount = Environment.ProcessorCount,
    machine = Environment.MachineName,
    timestampUtc = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
};
var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
await File.WriteAllTextAsync(Path.Combine(output, "local-cluster.json"), json);
Console.WriteLine(json);
return 0;

static async Task<long> StoreFootprintAsync(int count)
{
    await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { WatchHistorySize = count + 100 });
    var registry = cluster.Registry;
    var configMaps = registry.Catalog.Find("", "v1", "configmaps")!;
    var options = new Kube.Local.Storage.WriteOptions(false, "bench", Kube.Local.Storage.FieldValidation.Ignore);
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    var before = GC.GetTotalMemory(forceFullCollection: true);
    for (var i = 0; i < count; i++)
    {
        registry.Create(configMaps, "default", new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject
            {
                ["name"] = $"cm-{i:D6}",
                ["labels"] = new System.Text.Json.Nodes.JsonObject { ["app"] = "bench", ["shard"] = (i % 16).ToString(CultureInfo.InvariantCulture) },
            },
            ["data"] = new System.Text.Json.Nodes.JsonObject { ["index"] = i.ToString(CultureInfo.InvariantCulture), ["payload"] = new string('x', 200) },
        }, options);
    }
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    var after = GC.GetTotalMemory(forceFullCollection: true);
    GC.KeepAlive(registry);
    return (after - before) / count;
}
