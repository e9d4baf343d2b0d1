namespace Actors.Storage.Streams;

/// <summary>
/// Ids for the events the batch statement writes (Marten's <c>mt_events.id</c>): version 7 UUIDs (RFC 9562), the
/// millisecond first, then 74 random bits from <see cref="Random.Shared"/>. <see cref="Guid.CreateVersion7()"/> takes
/// its random bits from the kernel, one read of <c>/dev/urandom</c> per id: about 3 µs on this project's VMs, where a
/// trigger writes three events per visitor (docs/benchmarks-log.md, sixteenth session). An event id is a label, never a secret
/// (nothing is authorised by knowing one), so a fast generator serves; 74 random bits per millisecond keep ids apart.
/// </summary>
public static class EventIds
{
    public static Guid NewVersion7(DateTimeOffset at)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        // 48 bits of Unix milliseconds, big-endian: ids sort by time as the standard's do.
        var milliseconds = (ulong)Math.Max(0, at.ToUnixTimeMilliseconds());
        for (var i = 0; i < 6; i++) bytes[i] = (byte)(milliseconds >> (40 - 8 * i));
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F)); // version 7
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // variant 10 (RFC 9562)
        return new Guid(bytes, bigEndian: true);
    }
}
