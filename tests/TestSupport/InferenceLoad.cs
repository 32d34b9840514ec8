using System.Net.Http.Headers;
using System.Text;

namespace TestSupport;

/// <summary>
/// Bounded background load against GruServer processes on 127.0.0.1: a few workers per server sending the same
/// valid infer request, each pausing between requests, stopping at dispose, at a deadline or after a request cap.
/// </summary>
public sealed class InferenceLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<Task> _workers = [];
    private long _sent;
    private long _failed;

    /// <summary>
    /// Starts <paramref name="workersPerServer"/> loops per server, each pausing <paramref name="pause"/> between
    /// requests; all stop after <paramref name="maxDuration"/> or <paramref name="maxRequestsPerServer"/>.
    /// </summary>
    public InferenceLoad(
        IEnumerable<Uri> inferUrls, string requestJson, int workersPerServer, TimeSpan pause, TimeSpan maxDuration, int maxRequestsPerServer = 50_000)
        : this(inferUrls, [requestJson], workersPerServer, pause, maxDuration, maxRequestsPerServer, seed: 0)
    {
    }

    /// <summary>
    /// Noisy load: each request is drawn from <paramref name="requestJsons"/> (e.g. different batch sizes and
    /// lengths) and each pause is jittered between half and one and a half of <paramref name="pause"/>.
    /// </summary>
    public InferenceLoad(
        IEnumerable<Uri> inferUrls, IReadOnlyList<string> requestJsons, int workersPerServer, TimeSpan pause, TimeSpan maxDuration,
        int maxRequestsPerServer, int seed)
    {
        _stop = new CancellationTokenSource(maxDuration);
        var bodies = requestJsons.Select(Encoding.UTF8.GetBytes).ToArray();
        var jitter = bodies.Length > 1;
        foreach (var url in inferUrls)
        {
            var budget = new StrongBox(maxRequestsPerServer);
            for (var w = 0; w < workersPerServer; w++)
            {
                var random = new Random(seed++);
                _workers.Add(Task.Run(() => RunAsync(url, bodies, pause, jitter, random, budget, _stop.Token)));
            }
        }
    }

    /// <summary>Requests sent so far, over all servers.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Requests that got no HTTP answer (connection errors, client timeouts).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        _stop.Dispose();
        _http.Dispose();
    }

    private async Task RunAsync(
        Uri url, byte[][] bodies, TimeSpan pause, bool jitter, Random random, StrongBox budget, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && Interlocked.Decrement(ref budget.Value) >= 0)
        {
            try
            {
                using var content = new ByteArrayContent(bodies[random.Next(bodies.Length)]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await _http.PostAsync(url, content, cancellationToken);
                Interlocked.Increment(ref _sent);
                await Task.Delay(jitter ? pause * (0.5 + random.NextDouble()) : pause, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref _failed);
            }
        }
    }

    private sealed class StrongBox(int value)
    {
        public int Value = value;
    }
}
