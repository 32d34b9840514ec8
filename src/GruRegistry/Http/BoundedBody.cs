namespace GruRegistry.Http;

/// <summary>A response body longer than the reader allows; nothing past the limit was kept.</summary>
public sealed class ResponseTooLargeException(long limit)
    : Exception($"the answer is larger than {limit} bytes")
{
    /// <summary>The most bytes the reader would keep.</summary>
    public long Limit { get; } = limit;
}

/// <summary>
/// Reads an HTTP body into memory through a size limit and a deadline. Every endpoint a GruModel author can name
/// (Prometheus, a registry, its token realm) goes through this, so a hostile server answering gigabytes costs at most
/// the limit (HttpContent.ReadAsStringAsync would buffer all of it first) and one trickling its answer holds a reconcile
/// no longer than the deadline. Model blobs never come through here; they stream to disk with their digest checked.
/// Requests whose bodies come here must be sent with <see cref="HttpCompletionOption.ResponseHeadersRead"/>, or
/// HttpClient buffers the whole body before this sees a byte.
/// </summary>
public static class BoundedBody
{
    private const int BufferSize = 16 << 10;

    /// <summary>
    /// The body's bytes; throws <see cref="ResponseTooLargeException"/> once more than <paramref name="maxBytes"/> arrive and
    /// <see cref="TimeoutException"/> when the whole body has not arrived within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<byte[]> ReadAsync(HttpContent content, long maxBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        // A declared length over the limit is refused before a byte is read.
        if (content.Headers.ContentLength > maxBytes) throw new ResponseTooLargeException(maxBytes);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var stream = await content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            using var memory = new MemoryStream();
            var buffer = new byte[BufferSize];
            int read;
            while ((read = await stream.ReadAsync(buffer, deadline.Token).ConfigureAwait(false)) > 0)
            {
                if (memory.Length + read > maxBytes) throw new ResponseTooLargeException(maxBytes);
                memory.Write(buffer, 0, read);
            }

            return memory.ToArray();
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the answer did not arrive within {timeout.TotalSeconds:0.#}s", ex);
        }
    }
}
