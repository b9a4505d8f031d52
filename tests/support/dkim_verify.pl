#!/usr/bin/perl
# Verifies every DKIM signature of a message with Mail::DKIM (libmail-dkim-perl), looking keys up
# on the DNS server given as host and port. With no files, reads one message on stdin and prints
# one line per signature, "<domain> <algorithm> <result>", then "RESULT <overall>". With files,
# prints "<file> <overall>" for each.
use strict;
use warnings;
use Net::DNS::Resolver;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;

my ($host, $port, @files) = @ARGV;
my $resolver = Net::DNS::Resolver->new(nameservers => [$host], port => $port, recurse => 1,
                                       udp_timeout => 5, tcp_timeout => 5, retry => 1);
Mail::DKIM::DNS::resolver($resolver);

sub verify {
    my ($handle) = @_;
    my $dkim = Mail::DKIM::Verifier->new();
    binmode $handle;
    while (my $line = <$handle>) {
        $line =~ s/\015?\012\z//;
        $dkim->PRINT("$line\015\012");
    }
    $dkim->CLOSE;
    return $dkim;
}

if (!@files) {
    my $dkim = verify(\*STDIN);
    foreach my $signature ($dkim->signatures) {
        printf "%s %s %s\n", $signature->domain, $signature->algorithm, $signature->result_detail;
    }
    printf "RESULT %s\n", $dkim->result;
}
foreach my $file (@files) {
    open(my $handle, '<', $file) or die "$file: $!";
    printf "%s %s\n", $file, verify($handle)->result;
    close($handle);
}
