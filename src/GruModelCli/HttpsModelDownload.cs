using System.Buffers;
using System.Security.Authentication;
using System.Security.Cryptography;
using GruRegistry.Distribution;
using GruRegistry.References;
using GruServing.Contract.Models;

namespace GruModelCli;

/// <summary>
/// <c>gru-model pull https://...</c>, what the operator's model-fetcher init container runs: streams the file to
/// <c>OUTPUT.partial</c>, hashing as it goes, and moves it into place only when its sha256 is the one asked for; anything
/// else removes the partial file and fails with one line naming the source and the fix. No retries here: the kubelet
/// restarts a failed init container with back-off, and this line is its termination message, which the operator reports.
/// </summary>
internal sealed class HttpsModelDownload(HttpMessageHandler handler, TimeSpan stallTimeout)
{
    private const int BufferSize = 1 << 16;

    /// <summary>Downloads <paramref name="source"/> to <paramref name="path"/>; returns the bytes written.</summary>
    public async Task<long> DownloadAsync(Uri source, Sha256Digest expected, string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        var partial = full + ".partial";
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("gru-model/1");
        using var response = await GetAsync(client, source, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new RegistryException(
                response.StatusCode == System.Net.HttpStatusCode.NotFound ? RegistryErrorKind.NotFound : RegistryErrorKind.BadResponse,
                $"{RedactedUri.Of(source.ToString())}: the server answered {(int)response.StatusCode} {response.ReasonPhrase}; check the model's URL (spec.model.source)");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long written = 0;
            await using (var file = PartialFile.Create(partial, source.ToString(), BufferSize))
            await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
            {
                // A stalled body is a failure too: each read gets the stall timeout, not the whole (possibly large) transfer.
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                while (true)
                {
                    idle.CancelAfter(stallTimeout);
                    int read;
                    try
                    {
                        read = await body.ReadAsync(buffer.AsMemory(0, BufferSize), idle.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new RegistryException(RegistryErrorKind.Timeout,
                            $"{RedactedUri.Of(source.ToString())}: the download stalled for {stallTimeout.TotalSeconds:0.#}s after {written} bytes", ex);
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException)
                    {
                        throw new RegistryException(RegistryErrorKind.Unreachable, $"{RedactedUri.Of(source.ToString())}: the download broke off after {written} bytes: {ex.Message}", ex);
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    written += read;
                    progress?.Report(written);
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var actual = Sha256Digest.FromHash(hash.GetHashAndReset());
            if (actual != expected)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch,
                    $"{RedactedUri.Of(source.ToString())}: sha256 mismatch: expected {expected.Hex}, the {written} bytes downloaded have {actual.Hex}; refusing the file " +
                    "(spec.model.sha256 must be what sha256sum prints for the file at that URL)");
            }

            File.Move(partial, full, overwrite: true);
            return written;
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

    private async Task<HttpResponseMessage> GetAsync(HttpClient client, Uri source, CancellationToken cancellationToken)
    {
        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        headers.CancelAfter(stallTimeout);
        try
        {
            return await client.GetAsync(source, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RegistryException(RegistryErrorKind.Timeout, $"{RedactedUri.Of(source.ToString())}: no answer within {stallTimeout.TotalSeconds:0.#}s", ex);
        }
        catch (HttpRequestException ex) when (ex.InnerException is AuthenticationException)
        {
            throw new RegistryException(RegistryErrorKind.Unreachable,
                $"{RedactedUri.Of(source.ToString())}: the server's TLS certificate is not trusted ({ex.InnerException.Message}); if a private CA signed it, pass its PEM with --ca-file", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new RegistryException(RegistryErrorKind.Unreachable, $"{RedactedUri.Of(source.ToString())}: cannot connect: {ex.Message}", ex);
        }
    }
}
