using System.Globalization;

namespace GruOperator.Scaling;

/// <summary>
/// Reads one pod's live Stateful sequence count from its metrics endpoint (GET http://podIP:9464/metrics), bounded in
/// time and in size: one silent or chatty pod never stalls the loop nor fills the operator's memory.
/// </summary>
internal sealed class SessionCountProbe(HttpClient http)
{
    /// <summary>The named HttpClient (no retries: an unanswered pod keeps its cost until the next round).</summary>
    public const string HttpClientName = "session-count-probe";

    /// <summary>How long one pod has to answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Largest exposition read: GruServer's is a few tens of KiB.</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    /// <summary>The pod's live sequences, or null when it did not answer with the gauge in time.</summary>
    public async Task<int?> CountAsync(string podIp, int port, CancellationToken cancellationToken)
    {
        var host = podIp.Contains(':', StringComparison.Ordinal) ? $"[{podIp}]" : podIp; // IPv6 pod IPs
        var uri = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{port}/metrics"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength > MaxResponseBytes) return null;
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(MaxResponseBytes + 1);
            try
            {
                var read = 0;
                int n;
                while (read <= MaxResponseBytes && (n = await body.ReadAsync(buffer.AsMemory(read, MaxResponseBytes + 1 - read), timeout.Token).ConfigureAwait(false)) > 0) read += n;
                return read > MaxResponseBytes ? null : PodDeletionCost.Sessions(System.Text.Encoding.UTF8.GetString(buffer, 0, read));
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
