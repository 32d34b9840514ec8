using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using GruRegistry.Http;
using GruRegistry.References;
using Microsoft.Extensions.Logging;
using Polly.Timeout;

namespace GruRegistry.Distribution;

/// <summary>
/// A client of the OCI Distribution API (distribution-spec v1.1): manifests by tag or digest, blobs by digest,
/// blob uploads (monolithic, chunked, cross-repository mount) and manifest pushes. Every byte that comes back is
/// checked against the digest it was asked for. Retries, backoff and timeouts live in the resilience pipeline
/// of its <see cref="HttpClient"/> (<see cref="RegistryServiceCollectionExtensions"/>); uploads are not retried
/// mid-way. Failures are <see cref="RegistryException"/>s naming the reference.
/// </summary>
public sealed partial class DistributionClient
{
    /// <summary>Registries should accept manifests up to 4 MiB (distribution-spec); larger answers are refused.</summary>
    internal const int MaxManifestBytes = 4 << 20;

    /// <summary>Marks a request carrying blob data: longer timeout, no retry (the upload session would not match).</summary>
    internal static readonly HttpRequestOptionsKey<bool> UploadRequest = new("GruRegistry.Upload");

    private const int BufferSize = 256 << 10;

    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly RegistryAuthenticator _authenticator;
    private readonly ILogger _logger;

    internal DistributionClient(HttpClient http, RegistryOptions options, RegistryCredentials credentials, TimeProvider time, ILogger logger)
    {
        _http = http;
        _options = options;
        _logger = logger;
        _authenticator = new RegistryAuthenticator(http, credentials, options.PlainHttpRegistries.ToList(), time, logger);
    }

    /// <summary>Fetches a manifest by tag or digest and verifies its bytes against the pinned digest and the registry's Docker-Content-Digest.</summary>
    public async Task<ManifestContent> GetManifestAsync(OciReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        using var response = await SendAsync(
            () => WithAccept(new HttpRequestMessage(HttpMethod.Get, ManifestUri(reference, reference.ManifestReference))),
            reference, PullScope(reference), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, reference, "manifest", cancellationToken).ConfigureAwait(false);
        }

        if (response.Content.Headers.ContentLength > MaxManifestBytes)
        {
            throw new RegistryException(RegistryErrorKind.BadResponse,
                $"{reference}: the manifest is {response.Content.Headers.ContentLength} bytes, over the {MaxManifestBytes} bytes a manifest may have");
        }

        var bytes = await ReadLimitedAsync(response, MaxManifestBytes, reference, "manifest", cancellationToken).ConfigureAwait(false);
        var digest = Sha256Digest.Of(bytes);
        if (reference.Digest is { } pinned && pinned != digest)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"{reference}: the registry returned a manifest whose sha256 is {digest}, not the pinned {pinned}; refusing it");
        }

        if (HeaderDigest(response) is { } announced && announced != digest)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"{reference}: the manifest's bytes hash to {digest} but the registry announced Docker-Content-Digest {announced}; refusing it");
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        return new ManifestContent(digest, mediaType, bytes);
    }

    /// <summary>The digest a tag points to now, by HEAD (no manifest body): for cheap "has the tag moved?" checks.</summary>
    public async Task<Sha256Digest> HeadManifestAsync(OciReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        using var response = await SendAsync(
            () => WithAccept(new HttpRequestMessage(HttpMethod.Head, ManifestUri(reference, reference.ManifestReference))),
            reference, PullScope(reference), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, reference, "manifest", cancellationToken).ConfigureAwait(false);
        }

        if (HeaderDigest(response) is { } digest)
        {
            return digest;
        }

        // Docker-Content-Digest is optional in the spec: fall back to fetching and hashing the manifest.
        return (await GetManifestAsync(reference, cancellationToken).ConfigureAwait(false)).Digest;
    }

    /// <summary>True when the repository holds the blob (HEAD 200), false on 404.</summary>
    public async Task<bool> BlobExistsAsync(OciReference repository, Sha256Digest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, BlobUri(repository, digest)),
            repository, PullScope(repository), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        return response.IsSuccessStatusCode
            ? true
            : throw await ErrorAsync(response, repository, $"blob {digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a small blob (a config) into memory, verifying its digest; refuses more than <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]> GetBlobBytesAsync(OciReference repository, Sha256Digest digest, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, BlobUri(repository, digest)),
            repository, PullScope(repository), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, repository, $"blob {digest}", cancellationToken).ConfigureAwait(false);
        }

        var bytes = await ReadLimitedAsync(response, maxBytes, repository, $"blob {digest}", cancellationToken).ConfigureAwait(false);
        var actual = Sha256Digest.Of(bytes);
        return actual == digest
            ? bytes
            : throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"{repository}: blob {digest} arrived with sha256 {actual}; the registry's copy is corrupt, refusing it");
    }

    /// <summary>
    /// Downloads a blob to <paramref name="path"/>, hashing as it streams. The bytes go to <c>path.partial</c> and are
    /// moved into place only when size and sha256 match; otherwise the partial file is removed and the pull refused.
    /// A connection lost mid-way resumes with a Range request (up to MaxRetries times).
    /// </summary>
    public async Task<long> DownloadBlobAsync(
        OciReference repository, Sha256Digest digest, long? expectedSize, string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var full = Path.GetFullPath(path);
        var partial = full + ".partial";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            var written = new StrongBox<long>(0); // bytes hashed and written so far, kept when a read breaks off
            await using (var file = PartialFile.Create(partial, repository.ToString(), BufferSize))
            {
                for (var resumes = 0; ; resumes++)
                {
                    var offset = written.Value;
                    using var response = await ResumeAsync(offset, repository, digest, () => SendAsync(
                        () =>
                        {
                            var request = new HttpRequestMessage(HttpMethod.Get, BlobUri(repository, digest));
                            if (offset > 0)
                            {
                                request.Headers.Range = new RangeHeaderValue(offset, null);
                            }

                            return request;
                        },
                        repository, PullScope(repository), HttpCompletionOption.ResponseHeadersRead, cancellationToken)).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        throw await ErrorAsync(response, repository, $"blob {digest}", cancellationToken).ConfigureAwait(false);
                    }

                    if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                    {
                        // The registry ignored the Range header: start again from the first byte.
                        hash.GetHashAndReset();
                        file.SetLength(0);
                        file.Position = 0;
                        written.Value = 0;
                    }

                    try
                    {
                        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                        await CopyAsync(body, file, hash, buffer, written, expectedSize, repository, digest, progress, cancellationToken).ConfigureAwait(false);
                        break;
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException && resumes < _options.MaxRetries && !cancellationToken.IsCancellationRequested)
                    {
                        Log.DownloadInterrupted(_logger, repository.ToString(), digest.ToString(), written.Value, ex.Message);
                        await Task.Delay(_options.RetryBaseDelay * (1 << resumes), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException)
                    {
                        throw new RegistryException(RegistryErrorKind.Unreachable,
                            $"{repository}: the download of blob {digest} broke off after {written.Value} bytes: {ex.Message}", ex);
                    }
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var actual = Sha256Digest.FromHash(hash.GetHashAndReset());
            if (expectedSize is { } size && written.Value != size)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch,
                    $"{repository}: blob {digest} has {written.Value} bytes, but the manifest says {size}; refusing it");
            }

            if (actual != digest)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch,
                    $"{repository}: blob {digest} arrived with sha256 {actual}; the registry's copy is corrupt or was replaced, refusing it");
            }

            File.Move(partial, full, overwrite: true);
            return written.Value;
        }
        catch
        {
            PartialFile.TryDelete(partial);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Pushes a blob: nothing when HEAD finds it, a cross-repository mount when <paramref name="mountFrom"/> (a repository of
    /// the same registry) has it, else an upload in one PUT (up to ChunkSize) or in PATCH chunks. <paramref name="open"/> must
    /// return a new seekable stream over the blob's bytes each time it is called.
    /// </summary>
    public async Task<BlobPushOutcome> PushBlobAsync(
        OciReference repository, Sha256Digest digest, long size, Func<Stream> open, string? mountFrom, IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(open);
        var scope = PushScope(repository) + (mountFrom is null ? "" : $" repository:{mountFrom}:pull");
        using (var head = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, BlobUri(repository, digest)),
            repository, scope, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false))
        {
            if (head.IsSuccessStatusCode)
            {
                progress?.Report(size);
                return BlobPushOutcome.Existed;
            }

            if (head.StatusCode != HttpStatusCode.NotFound)
            {
                throw await ErrorAsync(head, repository, $"blob {digest}", cancellationToken).ConfigureAwait(false);
            }
        }

        var start = new Uri(RepositoryUri(repository), "blobs/uploads/" +
            (mountFrom is null ? "" : $"?mount={Uri.EscapeDataString(digest.ToString())}&from={Uri.EscapeDataString(mountFrom)}"));
        Uri location;
        using (var started = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, start) { Content = new ByteArrayContent([]) },
            repository, scope, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false))
        {
            if (started.StatusCode == HttpStatusCode.Created && mountFrom is not null)
            {
                progress?.Report(size);
                return BlobPushOutcome.Mounted;
            }

            if (started.StatusCode != HttpStatusCode.Accepted)
            {
                throw await ErrorAsync(started, repository, $"upload of blob {digest}", cancellationToken).ConfigureAwait(false);
            }

            location = UploadLocation(started, repository);
        }

        if (size <= _options.ChunkSize)
        {
            using var put = await SendAsync(
                () => Upload(HttpMethod.Put, WithDigest(location, digest), open(), 0, size, progress, contentRange: false),
                repository, scope, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await EnsureCreatedAsync(put, repository, digest, cancellationToken).ConfigureAwait(false);
            return BlobPushOutcome.UploadedMonolithic;
        }

        for (long offset = 0; offset < size; offset += _options.ChunkSize)
        {
            var (chunkOffset, length) = (offset, Math.Min(_options.ChunkSize, size - offset));
            var chunkLocation = location;
            using var patch = await SendAsync(
                () => Upload(HttpMethod.Patch, chunkLocation, open(), chunkOffset, length, progress, contentRange: true),
                repository, scope, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (patch.StatusCode != HttpStatusCode.Accepted)
            {
                throw await ErrorAsync(patch, repository, $"upload of blob {digest} (chunk at byte {chunkOffset})", cancellationToken).ConfigureAwait(false);
            }

            location = UploadLocation(patch, repository);
        }

        using var close = await SendAsync(
            () => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = new ByteArrayContent([]) },
            repository, scope, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureCreatedAsync(close, repository, digest, cancellationToken).ConfigureAwait(false);
        return BlobPushOutcome.UploadedChunked;
    }

    /// <summary>PUTs a manifest under <paramref name="reference"/>'s tag (or digest) and checks the digest the registry gives back.</summary>
    public async Task<Sha256Digest> PutManifestAsync(OciReference reference, string mediaType, byte[] content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var digest = Sha256Digest.Of(content);
        var target = reference.Tag ?? digest.ToString();
        using var response = await SendAsync(
            () =>
            {
                var body = new ByteArrayContent(content);
                body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                return new HttpRequestMessage(HttpMethod.Put, ManifestUri(reference, target)) { Content = body };
            },
            reference, PushScope(reference), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw await ErrorAsync(response, reference, "manifest push", cancellationToken).ConfigureAwait(false);
        }

        if (HeaderDigest(response) is { } announced && announced != digest)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch,
                $"{reference}: the registry stored the manifest as {announced}, but its bytes hash to {digest}");
        }

        return digest;
    }

    private async Task<HttpResponseMessage> SendAsync(
        Func<HttpRequestMessage> create, OciReference reference, string scope, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var request = create();
            request.Headers.Authorization = _authenticator.Current(reference.Registry, scope);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutRejectedException ex)
            {
                request.Dispose();
                throw new RegistryException(RegistryErrorKind.Timeout,
                    $"{reference}: the registry did not answer {request.Method} {request.RequestUri?.AbsolutePath} within {ex.Timeout.TotalSeconds:0.#}s", ex);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                request.Dispose();
                throw new RegistryException(RegistryErrorKind.Timeout,
                    $"{reference}: the registry did not answer {request.Method} {request.RequestUri?.AbsolutePath} in time", ex);
            }
            catch (HttpRequestException ex)
            {
                request.Dispose();
                var hint = TlsHint(ex, reference.Registry);
                throw new RegistryException(RegistryErrorKind.Unreachable,
                    $"{reference}: the registry {reference.Registry} is unreachable: {OneLine(ex)}{hint}", ex);
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0
                && await _authenticator.AnswerAsync(response, reference, scope, cancellationToken).ConfigureAwait(false))
            {
                response.Dispose();
                request.Dispose();
                continue;
            }

            return response;
        }
    }

    /// <summary>
    /// What to do about a failed TLS handshake. A certificate the client does not trust is a private CA; a handshake that
    /// gets no TLS answer at all ("cannot determine the frame size") is a registry serving plain http, the usual local
    /// registry, and users of ORAS, Helm and Docker expect to be told about plain http there.
    /// </summary>
    private static string TlsHint(HttpRequestException ex, string registry)
    {
        if (ex.InnerException is not System.Security.Authentication.AuthenticationException tls) return "";
        return tls.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase)
            ? "; if the registry's certificate comes from a private CA, trust it with Registry:CaCertificateFile (gru-model --ca-file)"
            : $"; the registry did not answer in TLS: if it serves plain http (a local registry), allow that with gru-model --plain-http, or --registry-plain-http {registry} for GruServer and the operator";
    }

    /// <summary>Says, when a resumed download cannot even start, that the pull broke off mid-way.</summary>
    private static async Task<HttpResponseMessage> ResumeAsync(long offset, OciReference repository, Sha256Digest digest, Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (RegistryException ex) when (offset > 0)
        {
            throw new RegistryException(ex.Kind, $"{repository}: the download of blob {digest} broke off after {offset} bytes and could not resume: {ex.Message}", ex);
        }
    }

    private HttpRequestMessage Upload(HttpMethod method, Uri uri, Stream source, long offset, long length, IProgress<long>? progress, bool contentRange)
    {
        source.Seek(offset, SeekOrigin.Begin);
        var content = new StreamContent(new BlobUploadStream(source, length, offset, progress), BufferSize);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        var request = new HttpRequestMessage(method, uri) { Content = content };
        if (contentRange)
        {
            // distribution-spec chunked upload: Content-Range is <start>-<end>, inclusive, without a unit.
            request.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
        }

        request.Options.Set(UploadRequest, true);
        return request;
    }

    private async Task EnsureCreatedAsync(HttpResponseMessage response, OciReference repository, Sha256Digest digest, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw await ErrorAsync(response, repository, $"upload of blob {digest}", cancellationToken).ConfigureAwait(false);
        }

        if (HeaderDigest(response) is { } stored && stored != digest)
        {
            throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{repository}: the registry stored blob {digest} as {stored}");
        }
    }

    private Uri RepositoryUri(OciReference reference)
    {
        var scheme = _options.PlainHttpRegistries.Contains(reference.Registry, StringComparer.OrdinalIgnoreCase) ? "http" : "https";
        return new Uri($"{scheme}://{reference.Registry}/v2/{reference.Repository}/");
    }

    private Uri ManifestUri(OciReference reference, string target) => new(RepositoryUri(reference), "manifests/" + target);

    private Uri BlobUri(OciReference reference, Sha256Digest digest) => new(RepositoryUri(reference), "blobs/" + digest);

    private Uri UploadLocation(HttpResponseMessage response, OciReference repository) =>
        response.Headers.Location is { } location
            ? location.IsAbsoluteUri ? location : new Uri(RepositoryUri(repository), location)
            : throw new RegistryException(RegistryErrorKind.BadResponse, $"{repository}: the registry started an upload without a Location header");

    private static Uri WithDigest(Uri location, Sha256Digest digest) =>
        new(location + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest.ToString()));

    private static HttpRequestMessage WithAccept(HttpRequestMessage request)
    {
        foreach (var type in OciMediaTypes.ManifestAccept)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }

        return request;
    }

    private static string PullScope(OciReference reference) => $"repository:{reference.Repository}:pull";

    private static string PushScope(OciReference reference) => $"repository:{reference.Repository}:pull,push";

    private static Sha256Digest? HeaderDigest(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Docker-Content-Digest", out var values)
        && Sha256Digest.TryParse(values.FirstOrDefault(), out var digest, out _) ? digest : null;

    private async Task CopyAsync(
        Stream body, FileStream file, IncrementalHash hash, byte[] buffer, StrongBox<long> written, long? expectedSize,
        OciReference repository, Sha256Digest digest, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        // A stalled body is a timeout too: each read gets AttemptTimeout, not the whole (possibly large) transfer.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (true)
        {
            idle.CancelAfter(_options.AttemptTimeout);
            int read;
            try
            {
                read = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RegistryException(RegistryErrorKind.Timeout,
                    $"{repository}: the download of blob {digest} stalled for {_options.AttemptTimeout.TotalSeconds:0.#}s after {written.Value} bytes", ex);
            }

            if (read == 0)
            {
                return;
            }

            hash.AppendData(buffer, 0, read);
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            written.Value += read;
            if (written.Value > expectedSize)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch,
                    $"{repository}: blob {digest} is longer than the {expectedSize} bytes the manifest says; refusing it");
            }

            progress?.Report(written.Value);
        }
    }

    private async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, int maxBytes, OciReference reference, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await BoundedBody.ReadAsync(response.Content, maxBytes, _options.AttemptTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (ResponseTooLargeException ex)
        {
            throw new RegistryException(RegistryErrorKind.BadResponse, $"{reference}: the {what} is larger than {maxBytes} bytes; refusing it", ex);
        }
        catch (TimeoutException ex)
        {
            throw new RegistryException(RegistryErrorKind.Timeout, $"{reference}: the {what} did not arrive within {_options.AttemptTimeout.TotalSeconds:0.#}s", ex);
        }
    }

    /// <summary>Most bytes of a registry's error body read for its error codes: a hostile registry's answer stays small.</summary>
    internal const int MaxErrorBodyBytes = 64 << 10;

    /// <summary>
    /// The one place HTTP failures become errors: status, the registry's OCI error codes, and the fix where there is one.
    /// The registry is named by the GruModel author, so only the status code and well-formed error codes (MANIFEST_UNKNOWN)
    /// reach the message and from there status: never its reason phrase, messages or body.
    /// </summary>
    private async Task<RegistryException> ErrorAsync(HttpResponseMessage response, OciReference reference, string what, CancellationToken cancellationToken)
    {
        var detail = "";
        if (response.RequestMessage?.Method != HttpMethod.Head)
        {
            try
            {
                detail = ErrorCodes(await BoundedBody.ReadAsync(response.Content, MaxErrorBodyBytes, _options.AttemptTimeout, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or ResponseTooLargeException or TimeoutException)
            {
                // the status alone still says what happened
            }
        }

        var status = $"{StatusText(response.StatusCode)}{detail}";
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new RegistryException(RegistryErrorKind.Unauthorized,
                $"{reference}: {what}: the registry refused access ({status}); give credentials (username/password or a dockerconfigjson) with access to {reference.Repository}"),
            HttpStatusCode.Forbidden => new RegistryException(RegistryErrorKind.Forbidden,
                $"{reference}: {what}: the registry forbids it ({status}); the credentials lack permission on {reference.Repository}"),
            HttpStatusCode.NotFound => new RegistryException(RegistryErrorKind.NotFound, $"{reference}: {what} not found ({status})"),
            HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError => new RegistryException(RegistryErrorKind.ServerError,
                $"{reference}: {what}: the registry answered {status} (after {_options.MaxRetries} retries for reads)"),
            _ => new RegistryException(RegistryErrorKind.BadResponse, $"{reference}: {what}: unexpected answer {status}"),
        };
    }

    /// <summary>"404 NotFound": the code and its standard name, never the server's own reason phrase.</summary>
    internal static string StatusText(HttpStatusCode status) =>
        Enum.IsDefined(status) ? $"{(int)status} {status}" : ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>" MANIFEST_UNKNOWN, NAME_UNKNOWN" from the distribution-spec error body, or "" when there is none.</summary>
    private static string ErrorCodes(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                // Codes are the spec's upper-case identifiers; anything else (and every free-text message) is left out.
                var codes = errors.EnumerateArray()
                    .Select(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null)
                    .Where(c => c is { Length: > 0 and <= 40 } && c.All(ch => ch is (>= 'A' and <= 'Z') or '_'))
                    .Distinct().Take(5).ToList();
                return codes.Count == 0 ? "" : " " + string.Join(", ", codes);
            }
        }
        catch (JsonException)
        {
        }

        return "";
    }


    private static string OneLine(Exception ex) =>
        ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{ex.Message} ({inner.Message})" : ex.Message;

    private static partial class Log
    {
        [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Download of {Reference} blob {Digest} broke off after {Bytes} bytes ({Error}); resuming")]
        public static partial void DownloadInterrupted(ILogger logger, string reference, string digest, long bytes, string error);
    }
}
