using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;

namespace GruDemo.Load;

/// <summary>What the load generator has seen of one track (stable or canary) so far.</summary>
public sealed record TrackLoad(string Track, long Requests, long Errors, double RecentP50Ms, double RecentP95Ms, int ReadyPods);

/// <summary>
/// Clients of the model's Service: each request goes to one ready pod picked at random among the pods the Service
/// selects, as kube-proxy spreads connections, so the canary's share of traffic is its share of ready pods (the weight
/// the replicas router realises). The pod list is read from the API server every half second; requests are paced to a
/// steady total rate, each a batch of one sequence of 128 steps (long enough that v3's recurrent weights, read once per
/// step, make it slower than the SLO even on a fast many-core machine).
/// </summary>
public sealed class ServiceLoad : IAsyncDisposable
{
    private const int Steps = 128;
    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly string _service;
    private readonly string _modelName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ConcurrentDictionary<string, TrackCounters> _tracks = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly byte[] _body;
    private volatile Endpoint[] _endpoints = [];

    private ServiceLoad(IKubernetes client, string ns, string service, string modelName)
    {
        _client = client;
        _namespace = ns;
        _service = service;
        _modelName = modelName;
        var random = new Random(7);
        var data = string.Join(',', Enumerable.Range(0, Steps * Publishing.ModelVersion.InputSize).Select(_ => (random.NextDouble() - 0.5).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
        _body = Encoding.UTF8.GetBytes(
            $"{{\"inputs\":[{{\"name\":\"input\",\"shape\":[1,{Steps},{Publishing.ModelVersion.InputSize}],\"datatype\":\"FP32\",\"data\":[{data}]}}," +
            $"{{\"name\":\"sequence_lengths\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[{Steps}]}}]}}");
    }

    /// <summary>Starts <paramref name="workers"/> clients sending <paramref name="requestsPerSecond"/> in total to Service <paramref name="service"/>.</summary>
    public static ServiceLoad Start(IKubernetes client, string ns, string service, string modelName, int workers, double requestsPerSecond)
    {
        var load = new ServiceLoad(client, ns, service, modelName);
        load._loops.Add(Task.Run(() => load.WatchEndpointsAsync(load._stop.Token)));
        var interval = TimeSpan.FromSeconds(workers / requestsPerSecond);
        for (var i = 0; i < workers; i++) load._loops.Add(Task.Run(() => load.SendAsync(interval, load._stop.Token)));
        return load;
    }

    /// <summary>Per track: requests, errors, recent latency, ready pods.</summary>
    public IReadOnlyList<TrackLoad> Snapshot()
    {
        var endpoints = _endpoints;
        return _tracks.OrderBy(t => t.Key == "stable" ? 0 : 1).Select(t => t.Value.Snapshot(t.Key, endpoints.Count(e => e.Track == t.Key))).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private async Task WatchEndpointsAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var service = await _client.CoreV1.ReadNamespacedServiceAsync(_service, _namespace, cancellationToken: cancellationToken);
                var selector = string.Join(',', (service.Spec.Selector ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}"));
                var pods = await _client.CoreV1.ListNamespacedPodAsync(_namespace, labelSelector: selector, cancellationToken: cancellationToken);
                _endpoints = pods.Items.Where(IsReady).Select(p => new Endpoint(
                    p.Status.PodIP, p.Metadata.Labels.TryGetValue("serving.gru.dev/track", out var track) ? track : "stable")).ToArray();
            }
            catch (k8s.Autorest.HttpOperationException)
            {
                _endpoints = []; // no Service yet, or gone
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    private static bool IsReady(V1Pod pod) =>
        pod.Metadata.DeletionTimestamp is null && !string.IsNullOrEmpty(pod.Status?.PodIP)
        && pod.Status.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true;

    private async Task SendAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var pace = new PeriodicTimer(interval);
        while (await pace.WaitForNextTickAsync(cancellationToken))
        {
            var endpoints = _endpoints;
            if (endpoints.Length == 0) continue;
            var endpoint = endpoints[Random.Shared.Next(endpoints.Length)];
            var counters = _tracks.GetOrAdd(endpoint.Track, _ => new TrackCounters());
            var clock = Stopwatch.StartNew();
            var ok = false;
            try
            {
                using var content = new ByteArrayContent(_body);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                using var response = await _http.PostAsync(new Uri($"http://{endpoint.Address}:{ServerPorts.Http}/v2/models/{_modelName}/infer"), content, cancellationToken);
                ok = response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                // a pod going away between the list and the request: counted as an error, as a client would see it
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            counters.Record(clock.Elapsed.TotalMilliseconds, ok);
        }
    }

    private sealed record Endpoint(string Address, string Track);

    /// <summary>Counts and the last 200 latencies of one track.</summary>
    private sealed class TrackCounters
    {
        private readonly Queue<double> _recent = new();
        private long _requests;
        private long _errors;

        public void Record(double milliseconds, bool ok)
        {
            lock (_recent)
            {
                _requests++;
                if (!ok) _errors++;
                _recent.Enqueue(milliseconds);
                if (_recent.Count > 200) _recent.Dequeue();
            }
        }

        public TrackLoad Snapshot(string track, int readyPods)
        {
            lock (_recent)
            {
                var sorted = _recent.Order().ToArray();
                double At(double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
                return new TrackLoad(track, _requests, _errors, At(0.5), At(0.95), readyPods);
            }
        }
    }
}
