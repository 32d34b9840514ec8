using System.Buffers;

namespace GruServer.Protocol;

/// <summary>A request body read into a buffer rented from <see cref="ArrayPool{T}.Shared"/>; disposing returns it.
/// Parsing copies every value it keeps (tensors, names), so the buffer can go back as soon as the request is read.</summary>
internal sealed class RequestBody(int initialSize) : IDisposable
{
    public byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(Math.Max(initialSize, 1));

    /// <summary>Bytes of the body in <see cref="Buffer"/>.</summary>
    public int Length { get; set; }

    public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

    public Task FillAsync(Stream body, long maxBytes, CancellationToken cancellationToken) =>
        V2RequestReader.ReadToEndAsync(body, this, maxBytes, cancellationToken);

    /// <summary>Moves the bytes read so far into a larger rented buffer.</summary>
    public void Grow(int size)
    {
        var larger = ArrayPool<byte>.Shared.Rent(size);
        Buffer.AsSpan().CopyTo(larger);
        ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = larger;
    }

    public void Dispose()
    {
        if (Buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = [];
        }
    }
}
