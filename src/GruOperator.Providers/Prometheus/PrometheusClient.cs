using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using GruRegistry.Http;
using Polly.Timeout;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// A small client for the Prometheus HTTP query API. Retries, backoff and timeouts live in the
/// resilience pipeline of its <see cref="HttpClient"/> (see <see cref="PrometheusServiceCollectionExtensions"/>);
/// this class turns what comes back into results or one-line <see cref="PrometheusException"/>s.
/// </summary>
internal sealed partial class PrometheusClient(HttpClient http, IOptionsMonitor<PrometheusOptions> options, ILogger<PrometheusClient> logger)
{
    /// <summary>Evaluates an instant query at <paramref name="time"/>.</summary>
    public Task<PrometheusResult> QueryAsync(Uri server, string query, DateTimeOffset time, CancellationToken cancellationToken) =>
        SendAsync(server, "api/v1/query", query, [new("query", query), new("time", Timestamp(time))], cancellationToken);

    private async Task<PrometheusResult> SendAsync(
        Uri server, string path, string query, KeyValuePair<string, string>[] form, CancellationToken cancellationToken)
    {
        // POST keeps long PromQL out of URLs and proxy logs; Prometheus accepts both.
        var uri = new Uri(WithTrailingSlash(server), path);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = await AuthorizationAsync(cancellationToken).ConfigureAwait(false);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new PrometheusException(PrometheusErrorKind.Timeout,
                $"Prometheus at {server} did not answer within {ex.Timeout.TotalSeconds:0.#}s (query: {query})", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PrometheusException(PrometheusErrorKind.Timeout, $"Prometheus at {server} did not answer in time (query: {query})", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new PrometheusException(PrometheusErrorKind.Unreachable,
                $"Prometheus at {server} is unreachable: {OneLine(ex)} (query: {query})", ex);
        }

        using (response)
        {
            var limit = options.CurrentValue.MaxResponseBytes;
            byte[] body;
            try
            {
                body = await BoundedBody.ReadAsync(response.Content, limit, options.CurrentValue.TotalTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (ResponseTooLargeException ex)
            {
                throw new PrometheusException(PrometheusErrorKind.BadResponse,
                    $"Prometheus at {server} answered more than {limit} bytes (Prometheus:MaxResponseBytes); aggregate the query (query: {query})", ex);
            }
            catch (TimeoutException ex)
            {
                throw new PrometheusException(PrometheusErrorKind.Timeout, $"Prometheus at {server} did not finish its answer within {options.CurrentValue.TotalTimeout.TotalSeconds:0.#}s (query: {query})", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new PrometheusException(PrometheusErrorKind.Unreachable, $"Prometheus at {server} broke off its answer: {OneLine(ex)} (query: {query})", ex);
            }

            var result = PrometheusResponseParser.Parse((int)response.StatusCode, body, query);
            foreach (var warning in result.Warnings)
            {
                Log.QueryWarning(logger, query, warning);
            }

            return result;
        }
    }

    private async Task<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (!string.IsNullOrEmpty(o.BearerTokenFile))
        {
            try
            {
                var token = await File.ReadAllTextAsync(o.BearerTokenFile, cancellationToken).ConfigureAwait(false);
                return new AuthenticationHeaderValue("Bearer", token.Trim());
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new PrometheusException(PrometheusErrorKind.Credentials,
                    $"cannot read Prometheus:BearerTokenFile '{o.BearerTokenFile}': {ex.Message}", ex);
            }
        }

        if (!string.IsNullOrEmpty(o.BearerToken))
        {
            return new AuthenticationHeaderValue("Bearer", o.BearerToken);
        }

        if (!string.IsNullOrEmpty(o.Username))
        {
            var raw = Encoding.UTF8.GetBytes($"{o.Username}:{o.Password}");
            return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(raw));
        }

        return null;
    }

    private static Uri WithTrailingSlash(Uri server) =>
        server.AbsolutePath.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");

    private static string Timestamp(DateTimeOffset time) =>
        (time.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    private static string OneLine(Exception ex) =>
        ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{ex.Message} ({inner.Message})" : ex.Message;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Prometheus warned about query {Query}: {Warning}")]
        public static partial void QueryWarning(ILogger logger, string query, string warning);
    }
}
