using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace E2E.Tests.Lane;

/// <summary>
/// Clients sending inference requests to a Service's ClusterIP at a steady rate, one connection per request so that
/// kube-proxy picks an endpoint for each (a pooled connection would stay on the pod it first reached, and a new canary
/// pod would get no traffic from it). Counts answers and errors.
/// </summary>
public sealed class ClusterIpLoad : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Uri _infer;
    private readonly byte[] _body;
    private long _ok;
    private long _errors;

    private ClusterIpLoad(string clusterIp, string model, int steps, int features)
    {
        _infer = new Uri($"http://{clusterIp}:8080/v2/models/{model}/infer");
        var random = new Random(7);
        var data = string.Join(',', Enumerable.Range(0, steps * features).Select(_ => (random.NextDouble() - 0.5).ToString("0.###", CultureInfo.InvariantCulture)));
        _body = Encoding.UTF8.GetBytes(
            $"{{\"inputs\":[{{\"name\":\"input\",\"shape\":[1,{steps},{features}],\"datatype\":\"FP32\",\"data\":[{data}]}}," +
            $"{{\"name\":\"sequence_lengths\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[{steps}]}}]}}");
    }

    public long Answered => Interlocked.Read(ref _ok);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Starts <paramref name="workers"/> clients sending <paramref name="requestsPerSecond"/> in total.</summary>
    public static ClusterIpLoad Start(string clusterIp, string model, int steps, int features, int workers, double requestsPerSecond)
    {
        var load = new ClusterIpLoad(clusterIp, model, steps, features);
        var interval = TimeSpan.FromSeconds(workers / requestsPerSecond);
        for (var i = 0; i < workers; i++) load._loops.Add(Task.Run(() => load.SendAsync(interval, load._stop.Token)));
        return load;
    }

    /// <summary>One request now, for a test to look at the answer.</summary>
    public async Task<HttpResponseMessage> SendOnceAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request();
        return await _http.SendAsync(request, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _http.Dispose();
        _stop.Dispose();
    }

    private HttpRequestMessage Request()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _infer) { Content = new ByteArrayContent(_body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.ConnectionClose = true;
        return request;
    }

    private async Task SendAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var pace = new PeriodicTimer(interval);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await pace.WaitForNextTickAsync(cancellationToken);
                using var request = Request();
                using var response = await _http.SendAsync(request, cancellationToken);
                Interlocked.Increment(ref response.IsSuccessStatusCode ? ref _ok : ref _errors);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _errors);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
