using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace GruOperator.Integrity;

/// <summary>What a pod said when asked which model it serves: its digest, or why there is none.</summary>
internal sealed record ProbeAnswer(string? Digest, string? Error);

/// <summary>
/// Asks one pod, through its IP, which model it loaded: GET /v2/models/{name} and read parameters.digest (the sha256 of
/// the file GruServer hashed before loading it). Bounded by a short timeout so one silent pod never stalls a reconcile.
/// </summary>
internal sealed class ServedDigestProbe(HttpClient http)
{
    /// <summary>The named HttpClient (no retries: an unanswered probe is an unverified pod, asked again next interval).</summary>
    public const string HttpClientName = "served-model-probe";

    /// <summary>How long one pod has to answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Asks the pod at <paramref name="podIp"/>:<paramref name="port"/> for model <paramref name="modelName"/>'s digest.</summary>
    public async Task<ProbeAnswer> AskAsync(string podIp, int port, string modelName, CancellationToken cancellationToken)
    {
        var host = podIp.Contains(':', StringComparison.Ordinal) ? $"[{podIp}]" : podIp; // IPv6 pod IPs
        var uri = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{port}/v2/models/{Uri.EscapeDataString(modelName)}"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await http.GetAsync(uri, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return new(null, $"GET {uri.AbsolutePath} answered {(int)response.StatusCode}");
            using var body = await response.Content.ReadFromJsonAsync<JsonDocument>(timeout.Token).ConfigureAwait(false);
            var digest = body?.RootElement.ValueKind == JsonValueKind.Object
                && body.RootElement.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                && parameters.TryGetProperty("digest", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            return string.IsNullOrEmpty(digest) ? new(null, "its metadata has no parameters.digest") : new(digest, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(null, $"no answer within {Timeout.TotalSeconds:0}s");
        }
        catch (HttpRequestException e)
        {
            return new(null, "no answer: " + e.Message);
        }
        catch (JsonException)
        {
            return new(null, "its metadata is not JSON");
        }
    }
}
