#!/usr/bin/perl
# Perl's Mail::Address (libmailtools-perl) as a mail reader would parse a From: each line on stdin
# is one header value; each output line lists the addresses it found, space-separated.
use strict;
use warnings;
use Mail::Address;

binmode STDIN, ':encoding(UTF-8)';
binmode STDOUT, ':encoding(UTF-8)';
while (my $value = <STDIN>) {
    chomp $value;
    print join(" ", map { $_->address } Mail::Address->parse($value)), "\n";
}
