using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GruRegistry.Http;
using GruRegistry.References;
using Microsoft.Extensions.Logging;
using Polly.Timeout;

namespace GruRegistry.Distribution;

/// <summary>
/// Answers registry challenges: Basic with the registry's credential, or the Bearer token flow of the
/// distribution token spec (GET realm?service=&amp;scope=, with the credential as Basic when there is one,
/// anonymous otherwise). Tokens are cached per registry and scope until shortly before they expire, so
/// a pull is one token request, not one per blob.
/// </summary>
internal sealed partial class RegistryAuthenticator(HttpClient http, RegistryCredentials credentials, IReadOnlyCollection<string> plainHttpRegistries, TimeProvider time, ILogger logger)
{
    /// <summary>Most bytes of a token answer (a JSON object with a JWT or opaque token, a few KiB in practice).</summary>
    internal const int MaxTokenBytes = 1 << 20;

    /// <summary>Longest a token answer may take to arrive once its headers have.</summary>
    private static readonly TimeSpan TokenReadTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, CachedToken> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _basicRegistries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The Authorization header to send first: a cached token for the scope, or Basic for a registry that asked for it.</summary>
    public AuthenticationHeaderValue? Current(string registry, string scope)
    {
        if (_tokens.TryGetValue(Key(registry, scope), out var token) && token.ExpiresAt > time.GetUtcNow())
        {
            return new AuthenticationHeaderValue("Bearer", token.Value);
        }

        return _basicRegistries.ContainsKey(registry) && credentials.Find(registry) is { } credential ? Basic(credential) : null;
    }

    /// <summary>
    /// Handles a 401: returns true when it obtained something new to retry with, false when there is nothing
    /// to try (no challenge, Basic without credentials). Throws when the token service refuses.
    /// </summary>
    public async Task<bool> AnswerAsync(HttpResponseMessage unauthorized, OciReference reference, string scope, CancellationToken cancellationToken)
    {
        var challenge = AuthenticationChallenge.Select(unauthorized.Headers.WwwAuthenticate);
        var credential = credentials.Find(reference.Registry);
        if (challenge is null)
        {
            return false;
        }

        if (challenge.IsBasic)
        {
            if (credential is null || _basicRegistries.ContainsKey(reference.Registry))
            {
                return false;
            }

            _basicRegistries[reference.Registry] = true;
            return true;
        }

        if (challenge["realm"] is not { Length: > 0 } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
        {
            throw new RegistryException(RegistryErrorKind.BadResponse,
                $"{reference}: the registry's Bearer challenge has no usable realm");
        }

        // A credential never travels in clear text: the realm must be https unless the admin listed its host:port as a
        // plain-http registry (--registry-plain-http), as for the registry itself. Anonymous token requests carry nothing.
        if (credential is not null && realmUri.Scheme != Uri.UriSchemeHttps && !IsPlainHttpAllowed(realmUri))
        {
            throw new RegistryException(RegistryErrorKind.Forbidden,
                $"{reference}: refusing to send the credentials of '{credential.Username}' to the token service {realmUri.GetLeftPart(UriPartial.Path)} over plain http; " +
                "the registry's token realm must be https (or list its host:port in the plain-http registries)");
        }

        // Our scope names everything the operation needs (a mount needs pull on the source too); the challenge's
        // scope is only the one request's. Ask for both.
        var scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (challenge["scope"] is { Length: > 0 } challenged)
        {
            scopes.AddRange(challenged.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s)));
        }

        var query = new StringBuilder();
        if (challenge["service"] is { Length: > 0 } service)
        {
            query.Append("service=").Append(Uri.EscapeDataString(service));
        }

        foreach (var s in scopes)
        {
            query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        }

        var builder = new UriBuilder(realmUri);
        builder.Query = string.IsNullOrEmpty(builder.Query) ? query.ToString() : builder.Query.TrimStart('?') + "&" + query;
        using var request = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
        if (credential is not null)
        {
            request.Headers.Authorization = Basic(credential);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new RegistryException(ex is HttpRequestException ? RegistryErrorKind.Unreachable : RegistryErrorKind.Timeout,
                $"{reference}: the registry's token service {realmUri.GetLeftPart(UriPartial.Path)} failed: {ex.Message}", ex);
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new RegistryException(response.StatusCode == HttpStatusCode.Unauthorized ? RegistryErrorKind.Unauthorized : RegistryErrorKind.Forbidden,
                    $"{reference}: the token service {realmUri.GetLeftPart(UriPartial.Path)} refused {(credential is null ? "anonymous access" : $"the credentials of '{credential.Username}'")} " +
                    $"for {string.Join(' ', scopes)} ({(int)response.StatusCode}); check the registry credentials");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new RegistryException((int)response.StatusCode >= 500 ? RegistryErrorKind.ServerError : RegistryErrorKind.BadResponse,
                    $"{reference}: the token service {realmUri.GetLeftPart(UriPartial.Path)} answered {DistributionClient.StatusText(response.StatusCode)}");
            }

            byte[] body;
            try
            {
                body = await BoundedBody.ReadAsync(response.Content, MaxTokenBytes, TokenReadTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (ResponseTooLargeException ex)
            {
                throw new RegistryException(RegistryErrorKind.BadResponse,
                    $"{reference}: the token service {realmUri.GetLeftPart(UriPartial.Path)} answered more than {MaxTokenBytes} bytes; refusing it", ex);
            }
            catch (TimeoutException ex)
            {
                throw new RegistryException(RegistryErrorKind.Timeout,
                    $"{reference}: the token service {realmUri.GetLeftPart(UriPartial.Path)} did not finish its answer within {TokenReadTimeout.TotalSeconds:0}s", ex);
            }

            var (token, lifetime) = ParseToken(body, reference, realmUri);
            // Renew a little early so a token does not expire between being read from the cache and being checked.
            var expiresAt = time.GetUtcNow() + lifetime - TimeSpan.FromSeconds(Math.Min(10, lifetime.TotalSeconds / 10));
            _tokens[Key(reference.Registry, scope)] = new CachedToken(token, expiresAt);
            Log.TokenObtained(logger, reference.Registry, scope, lifetime.TotalSeconds);
            return true;
        }
    }

    private static (string Token, TimeSpan Lifetime) ParseToken(byte[] body, OciReference reference, Uri realm)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            // The token spec names it "token"; OAuth2-style servers say "access_token". Either is accepted.
            var token = (root.TryGetProperty("token", out var t) ? t.GetString() : null)
                ?? (root.TryGetProperty("access_token", out var a) ? a.GetString() : null);
            if (string.IsNullOrEmpty(token))
            {
                throw new RegistryException(RegistryErrorKind.BadResponse, $"{reference}: the token service {realm.GetLeftPart(UriPartial.Path)} answered without a token");
            }

            // expires_in defaults to 60 s in the token spec.
            var seconds = root.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetInt32() : 60;
            return (token, TimeSpan.FromSeconds(Math.Max(seconds, 1)));
        }
        catch (JsonException ex)
        {
            throw new RegistryException(RegistryErrorKind.BadResponse, $"{reference}: the token service {realm.GetLeftPart(UriPartial.Path)} answered invalid JSON", ex);
        }
    }

    private bool IsPlainHttpAllowed(Uri uri) =>
        plainHttpRegistries.Contains(uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}", StringComparer.OrdinalIgnoreCase);

    private static AuthenticationHeaderValue Basic(RegistryCredential credential) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Password}")));

    private static string Key(string registry, string scope) => registry + " " + scope;

    private sealed record CachedToken(string Value, DateTimeOffset ExpiresAt);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Obtained a registry token for {Registry} scope {Scope}, valid {Seconds}s")]
        public static partial void TokenObtained(ILogger logger, string registry, string scope, double seconds);
    }
}
